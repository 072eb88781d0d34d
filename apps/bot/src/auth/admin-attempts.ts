import { Injectable } from '@nestjs/common';
import { FailureLimiter } from './failure-limiter.js';

/** Wrong tokens one client may send per minute before the admin endpoints answer it 429. */
export const ADMIN_MAX_FAILURES = 10;

/** The app's one count of wrong admin tokens per client (shared by every module's AdminTokenGuard). */
@Injectable()
export class AdminAttempts extends FailureLimiter {
  constructor() {
    super({ maxFailures: ADMIN_MAX_FAILURES, windowMs: 60_000, maxClients: 10_000 });
  }
}
