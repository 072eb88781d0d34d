import { Module } from '@nestjs/common';
import { MessagesModule } from '../messages/messages.module.js';
import { PaymentsModule } from '../payments/payments.module.js';
import { ResponderModule } from '../responder/responder.module.js';
import { StatsModule } from '../stats/stats.module.js';
import { ThreadsModule } from '../threads/threads.module.js';
import { UsersModule } from '../users/users.module.js';
import { CommandsHandler } from './commands.handler.js';
import { TelegramSecretGuard } from './telegram-secret.guard.js';
import { TelegramController } from './telegram.controller.js';
import { TelegramService } from './telegram.service.js';

/** The webhook: Telegram updates in, Bot API method calls out. */
@Module({
  imports: [MessagesModule, PaymentsModule, UsersModule, ThreadsModule, ResponderModule, StatsModule],
  controllers: [TelegramController],
  providers: [TelegramService, CommandsHandler, TelegramSecretGuard],
})
export class TelegramModule {}
