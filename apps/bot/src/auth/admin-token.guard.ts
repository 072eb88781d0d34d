import { ForbiddenException, HttpException, HttpStatus, Injectable, UnauthorizedException } from '@nestjs/common';
import type { CanActivate, ExecutionContext } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { BotConfig } from '../config/bot-config.js';
import { AdminAttempts } from './admin-attempts.js';

/**
 * Admin endpoints: `Authorization: Bearer <ADMIN_TOKEN>`. Without ADMIN_TOKEN configured they are closed (403).
 * A client (IP) that sent ADMIN_MAX_FAILURES wrong tokens within a minute gets 429 for the rest of it.
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected: Buffer | undefined;

  constructor(
    config: BotConfig,
    private readonly limiter: AdminAttempts,
  ) {
    this.expected = config.adminToken === undefined ? undefined : digest(config.adminToken);
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.expected) throw new ForbiddenException('admin endpoints are disabled: set ADMIN_TOKEN to enable them');
    const request = context.switchToHttp().getRequest<{ headers: { authorization?: string }; ip?: string }>();
    const client = request.ip ?? 'unknown';
    const wait = this.limiter.retryAfter(client);
    if (wait > 0)
      throw new HttpException(
        `too many wrong admin tokens from this client: retry in ${wait} s`,
        HttpStatus.TOO_MANY_REQUESTS,
      );
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    // Compare fixed-length digests in constant time, so neither the token nor its length leaks through timing.
    if (token === undefined || !timingSafeEqual(digest(token), this.expected)) {
      this.limiter.fail(client);
      throw new UnauthorizedException('a valid admin token is required (Authorization: Bearer <ADMIN_TOKEN>)');
    }
    return true;
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
