import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { BotConfig } from './bot-config.js';

/** Makes the validated {@link BotConfig} (loaded by ConfigModule under the `bot` key) injectable everywhere. */
@Global()
@Module({
  providers: [
    {
      provide: BotConfig,
      inject: [ConfigService],
      useFactory: (config: ConfigService) => config.getOrThrow<BotConfig>('bot'),
    },
  ],
  exports: [BotConfig],
})
export class BotConfigModule {}
