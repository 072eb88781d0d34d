import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { Cached } from 'nestjs-tiercache';
import type { Attachment } from './attachment.js';
import { TelegramFilesClient } from './telegram-files.client.js';

/** Largest file kept in the cache (Telegram's getFile limit for bots); larger ones are fetched every time. */
export const FILE_CACHE_MAX_BYTES = 20 * 1024 * 1024;

/** What the responder learns about a file. */
export interface FileSummary {
  kind: Attachment['kind'];
  name: string;
  size: number;
  /** First 8 hex digits of the SHA-256 of the first 64 KiB. */
  head: string;
}

/** File bytes through the cache (namespace `file`, key = file id) in front of the files service. */
@Injectable()
export class FilesService {
  constructor(private readonly client: TelegramFilesClient) {}

  /**
   * The file's bytes. Cached up to 20 MiB (the namespace's maxValueBytes); a bigger file is refused by the cache
   * (counted) and downloaded again next time.
   */
  @Cached({ namespace: 'file', key: (file: Attachment) => file.fileId })
  async download(file: Attachment): Promise<Buffer> {
    return this.client.download(file.fileId, file.fileSize);
  }

  /** Downloads and summarizes one file. */
  async summarize(file: Attachment): Promise<FileSummary> {
    const bytes = await this.download(file);
    return summarize(file, bytes);
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
