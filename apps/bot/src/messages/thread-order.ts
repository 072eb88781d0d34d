import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';
import type { ThreadRef } from '../threads/thread.js';
import { threadKey } from '../threads/thread.js';
import { KeyedLock } from './keyed-lock.js';

/**
 * One exchange (or edit) of a thread at a time, across every instance: first in-process (so waiting messages of
 * one thread cost no connection), then the database's advisory lock of the thread, held until the history append
 * is done. Ordering by the database rather than a Redis lease: the lock lives exactly as long as the holder's
 * connection (a killed instance gives it back at once, a slow one never loses it to a TTL), and the bot already
 * depends on PostgreSQL for every write, so it adds no new way to fail.
 */
@Injectable()
export class ThreadOrder {
  private readonly local = new KeyedLock();

  constructor(private readonly db: Database) {}

  run<T>(ref: ThreadRef, task: () => Promise<T>): Promise<T> {
    const key = threadKey(ref);
    return this.local.run(key, () => this.db.withLock(`bot:thread:${key}`, task));
  }
}
