import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { Cached, CacheService } from 'nestjs-tiercache';
import type { Attachment } from './attachment.js';
import { Semaphore } from './semaphore.js';
import { TelegramFilesClient } from './telegram-files.client.js';

/** Largest file whose bytes are kept in the cache (Telegram's getFile limit for bots). */
export const FILE_CACHE_MAX_BYTES = 20 * 1024 * 1024;

/** Downloads of files over {@link FILE_CACHE_MAX_BYTES} one instance runs at once (the rest wait their turn). */
export const LARGE_DOWNLOADS_AT_ONCE = 2;

/** The namespace of the summaries of files too large for the byte cache (small values, long TTL). */
export const SUMMARY_NAMESPACE = 'file-summary';

/** What the responder learns about a file. */
export interface FileSummary {
  kind: Attachment['kind'];
  name: string;
  size: number;
  /** First 8 hex digits of the SHA-256 of the first 64 KiB. */
  head: string;
}

/**
 * File bytes through the cache (namespace `file`, key = file id) in front of the files service. A file too large for
 * the byte cache is downloaded once and only its summary is kept (namespace `file-summary`): a later message of the
 * thread reads the summary instead of downloading it again, and large downloads run at most
 * {@link LARGE_DOWNLOADS_AT_ONCE} at a time, so a thread of big documents cannot starve the instance.
 */
@Injectable()
export class FilesService {
  private readonly largeDownloads = new Semaphore(LARGE_DOWNLOADS_AT_ONCE);

  constructor(
    private readonly client: TelegramFilesClient,
    private readonly cache: CacheService,
  ) {}

  /**
   * The file's bytes. Cached up to 20 MiB (the namespace's maxValueBytes); a bigger file is refused by the cache
   * (counted) and downloaded again next time.
   */
  @Cached({ namespace: 'file', key: (file: Attachment) => file.fileId })
  async download(file: Attachment): Promise<Buffer> {
    return this.client.download(file.fileId, file.fileSize);
  }

  /** Downloads and summarizes one file (a large one: its cached summary, downloaded at most once per TTL). */
  async summarize(file: Attachment): Promise<FileSummary> {
    if (file.fileSize === undefined || file.fileSize <= FILE_CACHE_MAX_BYTES)
      return summarize(file, await this.download(file));
    return this.cache.getOrSet(SUMMARY_NAMESPACE, file.fileId, () =>
      this.largeDownloads.run(async () => summarize(file, await this.client.download(file.fileId, file.fileSize))),
    );
  }
}

/** The summary of a file's bytes. */
export function summarize(file: Attachment, bytes: Buffer): FileSummary {
  const head = createHash('sha256')
    .update(bytes.subarray(0, 64 * 1024))
    .digest('hex')
    .slice(0, 8);
  return { kind: file.kind, name: file.fileName ?? `${file.kind}-${file.fileUniqueId}`, size: bytes.length, head };
}
