import { Injectable, Logger, UnauthorizedException } from '@nestjs/common';
import type { CanActivate, ExecutionContext } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { BotConfig } from '../config/bot-config.js';

/** The header Telegram sends with every webhook call when setWebhook was given a secret_token. */
export const SECRET_HEADER = 'x-telegram-bot-api-secret-token';

/**
 * Checks the webhook's secret token on every update (401 otherwise). There is always one: configured, or generated
 * at boot in development (then logged once, so the developer can pass it to setWebhook or curl).
 */
@Injectable()
export class TelegramSecretGuard implements CanActivate {
  private readonly expected: Buffer;

  constructor(config: BotConfig) {
    this.expected = digest(config.telegramSecretToken);
    if (config.telegramSecretGenerated)
      new Logger(TelegramSecretGuard.name).warn(
        `development mode without TELEGRAM_SECRET_TOKEN: the webhook expects ${SECRET_HEADER}: ${config.telegramSecretToken} (generated for this run)`,
      );
  }

  canActivate(context: ExecutionContext): boolean {
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
