import { Module } from '@nestjs/common';
import { FilesService } from './files.service.js';
import { TelegramFilesClient } from './telegram-files.client.js';

/** File downloads (the Telegram getFile stand-in) behind the cache. */
@Module({ providers: [TelegramFilesClient, FilesService], exports: [FilesService, TelegramFilesClient] })
export class FilesModule {}
