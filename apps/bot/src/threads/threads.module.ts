import { Module } from '@nestjs/common';
import { ThreadsRepository } from './threads.repository.js';
import { ThreadsService } from './threads.service.js';

/** Threads: private chats and forum topics. */
@Module({ providers: [ThreadsRepository, ThreadsService], exports: [ThreadsService] })
export class ThreadsModule {}
