import { Module } from '@nestjs/common';
import { FilesModule } from '../files/files.module.js';
import { ResponderModule } from '../responder/responder.module.js';
import { StatsModule } from '../stats/stats.module.js';
import { ThreadsModule } from '../threads/threads.module.js';
import { UsersModule } from '../users/users.module.js';
import { ConversationService } from './conversation.service.js';
import { MessageHistoryService } from './message-history.service.js';
import { MessagesRepository } from './messages.repository.js';
import { ThreadOrder } from './thread-order.js';

/** Messages: the paid exchange and the cached history. */
@Module({
  imports: [UsersModule, ThreadsModule, FilesModule, ResponderModule, StatsModule],
  providers: [MessagesRepository, MessageHistoryService, ConversationService, ThreadOrder],
  exports: [ConversationService, MessageHistoryService],
})
export class MessagesModule {}
