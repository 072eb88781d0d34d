import { Module } from '@nestjs/common';
import { BotConfig } from '../config/bot-config.js';
import { LocalResponder } from './local.responder.js';
import { ModelCatalogue } from './model-catalogue.service.js';
import { ResponseCache } from './response-cache.service.js';
import { Responder } from './responder.js';

/** Binds {@link Responder} to the deterministic {@link LocalResponder}; override the provider to plug in another. */
@Module({
  providers: [
    {
      provide: Responder,
      inject: [BotConfig],
      useFactory: (config: BotConfig) => new LocalResponder({ context: config.responderContext }),
    },
    ResponseCache,
    ModelCatalogue,
  ],
  exports: [Responder, ResponseCache, ModelCatalogue],
})
export class ResponderModule {}
