import { ForbiddenException, Injectable, UnauthorizedException } from '@nestjs/common';
import type { CanActivate, ExecutionContext } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { BotConfig } from '../config/bot-config.js';

/** Admin endpoints: `Authorization: Bearer <ADMIN_TOKEN>`. Without ADMIN_TOKEN configured they are closed (403). */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected: Buffer | undefined;

  constructor(config: BotConfig) {
    this.expected = config.adminToken === undefined ? undefined : digest(config.adminToken);
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.expected) throw new ForbiddenException('admin endpoints are disabled: set ADMIN_TOKEN to enable them');
    const header = context.switchToHttp().getRequest<{ headers: { authorization?: string } }>().headers.authorization;
    const token = /^Bearer (.+)$/.exec(header ?? '')?.[1];
    // Compare fixed-length digests in constant time, so neither the token nor its length leaks through timing.
    if (token === undefined || !timingSafeEqual(digest(token), this.expected))
      throw new UnauthorizedException('a valid admin token is required (Authorization: Bearer <ADMIN_TOKEN>)');
    return true;
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
