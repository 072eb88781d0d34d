import { Injectable } from '@nestjs/common';
import { Cached, CacheInvalidate, CachePut, CacheService } from 'nestjs-tiercache';
import type { Attachment } from '../files/attachment.js';
import type { Thread, ThreadRef } from './thread.js';
import { threadKey } from './thread.js';
import { ThreadsRepository } from './threads.repository.js';

/** The active-thread cache (namespace `thread`, key `<chat>:<topic>`) in front of the threads table. */
@Injectable()
export class ThreadsService {
  constructor(
    private readonly repository: ThreadsRepository,
    private readonly cache: CacheService,
  ) {}

  /** The thread a message belongs to, or null before its first message. */
  @Cached({ namespace: 'thread', key: (ref: ThreadRef) => threadKey(ref) })
  async find(ref: ThreadRef): Promise<Thread | null> {
    return this.repository.find(ref);
  }

  /** Opens a thread (or returns the existing one) and caches it. */
  @CachePut({ namespace: 'thread', key: (ref: ThreadRef) => threadKey(ref) })
  async open(ref: ThreadRef, userId: number, title: string, renamed = false): Promise<Thread> {
    return this.repository.open(ref, userId, title, renamed);
  }

  /** The thread of a message, opened on its first message. */
  async ensure(ref: ThreadRef, userId: number, title: string): Promise<Thread> {
    return (await this.find(ref)) ?? this.open(ref, userId, title);
  }

  /** A forum topic was renamed. */
  @CacheInvalidate({ namespace: 'thread', key: (ref: ThreadRef) => threadKey(ref) })
  async rename(ref: ThreadRef, title: string): Promise<boolean> {
    return this.repository.rename(ref, title);
  }

  /** Drops the cached thread (everywhere): the next read takes it from the database. */
  async forget(ref: ThreadRef): Promise<void> {
    await this.cache.delete('thread', threadKey(ref));
  }

  /** After an exchange committed new files: the cached thread gets them in place, never going back in version. */
  async filesChanged(ref: ThreadRef, filesContext: Attachment[], version: number): Promise<void> {
    await this.cache.update<Thread | null>('thread', threadKey(ref), (current) =>
      current && current.version < version ? { ...current, filesContext, version } : current,
    );
  }
}
