import { BadRequestException, Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { BotMetrics } from '../metrics/bot-metrics.js';
import { TelegramSecretGuard } from './telegram-secret.guard.js';
import { TelegramService } from './telegram.service.js';
import { MalformedUpdateError, parseUpdate } from './update.parser.js';
import type { WebhookReply } from './webhook-reply.js';

/**
 * POST /telegram/webhook: one Bot API Update in, at most one method call out as the response body (Telegram runs
 * it). 200 with an empty body when there is nothing to say; 400 naming the field for a malformed update.
 */
@Controller('telegram')
export class TelegramController {
  constructor(
    private readonly telegram: TelegramService,
    private readonly metrics: BotMetrics,
  ) {}

  @Post('webhook')
  @HttpCode(200)
  @UseGuards(TelegramSecretGuard)
  async webhook(@Body() body: unknown): Promise<WebhookReply | undefined> {
    let update;
    try {
      update = parseUpdate(body);
    } catch (err) {
      if (!(err instanceof MalformedUpdateError)) throw err;
      this.metrics.update('malformed');
      throw new BadRequestException(err.message);
    }
    this.metrics.update(update.type === 'ignored' ? `ignored:${update.kind}` : update.type);
    return this.telegram.handle(update);
  }
}
