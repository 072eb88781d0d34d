import { Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { BotConfig } from '../config/bot-config.js';

/** Thrown for a file the stand-in will not serve (too big). */
export class FileTooLargeError extends Error {
  constructor(
    readonly fileId: string,
    readonly size: number,
    readonly limit: number,
  ) {
    super(`file ${fileId} is ${size} bytes, over the ${limit}-byte download limit`);
    this.name = 'FileTooLargeError';
  }
}

/** Size of a file whose update did not say (Telegram omits file_size sometimes). */
const DEFAULT_SIZE = 64 * 1024;

/**
 * A local stand-in for Telegram's getFile + download: the same file id always gives the same bytes (generated from
 * the id), after a realistic delay (FILES_LATENCY_MS plus size / FILES_BANDWIDTH_BYTES_PER_SEC). Counts downloads so
 * tests and the bench can see what the cache saved.
 */
@Injectable()
export class TelegramFilesClient {
  /** Downloads served so far. */
  downloads = 0;

  constructor(private readonly config: BotConfig) {}

  /** Downloads a file of `size` bytes (the update's file_size). */
  async download(fileId: string, size = DEFAULT_SIZE): Promise<Buffer> {
    if (size > this.config.filesMaxBytes) throw new FileTooLargeError(fileId, size, this.config.filesMaxBytes);
    const delay = this.config.filesLatencyMs + Math.round((size / this.config.filesBandwidthBytesPerSec) * 1000);
    if (delay > 0) await sleep(delay);
    this.downloads++;
    return fileBytes(fileId, size);
  }
}

/**
 * The deterministic content of a stand-in file: xorshift32 seeded from the id (fast enough for 20 MB).
 * @example fileBytes('doc-1', 4).length // 4
 */
export function fileBytes(fileId: string, size: number): Buffer {
  let seed = 0x811c9dc5;
  for (let i = 0; i < fileId.length; i++) seed = Math.imul(seed ^ fileId.charCodeAt(i), 0x01000193) >>> 0;
  let state = seed || 1;
  const out = Buffer.allocUnsafe(size);
  const words = Math.floor(size / 4);
  for (let i = 0; i < words; i++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    out.writeUInt32LE(state, i * 4);
  }
  for (let i = words * 4; i < size; i++) out[i] = (state >>> ((i % 4) * 8)) & 0xff;
  return out;
}
