import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import type { HealthIndicatorResult } from '@nestjs/terminus';
import { Database } from '../database/database.js';

const TIMEOUT_MS = 1_000;

/** `database`: up when `SELECT 1` answers within a second; down (a value, never a throw) otherwise. */
@Injectable()
export class DatabaseHealthIndicator {
  constructor(
    private readonly db: Database,
    private readonly health: HealthIndicatorService,
  ) {}

  async check(key = 'database'): Promise<HealthIndicatorResult> {
    const indicator = this.health.check(key);
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.db.query('SELECT 1'),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
        }),
      ]);
      return indicator.up({ driver: this.db.driver, ms: Math.round(performance.now() - started) });
    } catch (err) {
      return indicator.down({ driver: this.db.driver, message: (err as Error).message });
    } finally {
      clearTimeout(timer);
    }
  }
}
