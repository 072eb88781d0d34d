import { Module } from '@nestjs/common';
import { LocalResponder } from './local.responder.js';
import { ResponseCache } from './response-cache.service.js';
import { Responder } from './responder.js';

/** Binds {@link Responder} to the deterministic {@link LocalResponder}; override the provider to plug in another. */
@Module({ providers: [{ provide: Responder, useClass: LocalResponder }, ResponseCache], exports: [Responder, ResponseCache] })
export class ResponderModule {}
