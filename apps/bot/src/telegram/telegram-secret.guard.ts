import { Injectable, UnauthorizedException } from '@nestjs/common';
import type { CanActivate, ExecutionContext } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { BotConfig } from '../config/bot-config.js';

/** The header Telegram sends with every webhook call when setWebhook was given a secret_token. */
export const SECRET_HEADER = 'x-telegram-bot-api-secret-token';

/** Checks the webhook's secret token when TELEGRAM_SECRET_TOKEN is configured (401 otherwise); open when it is not. */
@Injectable()
export class TelegramSecretGuard implements CanActivate {
  private readonly expected: Buffer | undefined;

  constructor(config: BotConfig) {
    this.expected = config.telegramSecretToken === undefined ? undefined : digest(config.telegramSecretToken);
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.expected) return true;
    const header = context.switchToHttp().getRequest<{ headers: Record<string, string | string[] | undefined> }>()
      .headers[SECRET_HEADER];
    if (typeof header !== 'string' || !timingSafeEqual(digest(header), this.expected)) {
      throw new UnauthorizedException(`missing or wrong ${SECRET_HEADER} header`);
    }
    return true;
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
