import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { CacheService } from 'nestjs-tiercache';
import { BotMetrics } from '../metrics/bot-metrics.js';
import type { ResponderContext } from './responder.js';
import { Responder } from './responder.js';

/** The namespace of cached answers (24 h TTL, set in the app's cache options). */
export const RESPONSE_NAMESPACE = 'response';

/**
 * Trims, folds case and Unicode compatibility forms, and collapses whitespace: "  Hello   WORLD " and "hello world"
 * are one question.
 * @example normalizeQuestion('  Hello\n  WORLD ') // 'hello world'
 */
export function normalizeQuestion(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/gu, ' ').trim();
}

/**
 * The response cache (as the seeds cache their AI replies): the responder's answer is cached under a fixed-length
 * hash of the normalized question, the model and the context the responder says the answer depends on
 * (`Responder.cacheContext`). A cached answer is still charged and still appended to the history, like any answer:
 * the price pays for the bot's reply, whoever produced it.
 */
@Injectable()
export class ResponseCache {
  constructor(
    private readonly cache: CacheService,
    private readonly responder: Responder,
    private readonly metrics: BotMetrics,
  ) {}

  /** The responder's answer, from the cache when the same question was answered in the same context. */
  async answer(context: ResponderContext): Promise<string> {
    const scope = this.responder.cacheContext(context);
    if (scope === null || normalizeQuestion(context.message.text) === '') {
      this.metrics.responseLookup('bypass');
      return this.responder.respond(context);
    }
    let loaded = false;
    const answer = await this.cache.getOrSet(RESPONSE_NAMESPACE, responseKey(context, scope), () => {
      loaded = true;
      return this.responder.respond(context);
    });
    this.metrics.responseLookup(loaded ? 'miss' : 'hit');
    return answer;
  }
}

/**
 * 32 hex digits of sha256 over the normalized question, the model id and the responder's context.
 * @example responseKey(ctx, scope).length // 32
 */
export function responseKey(context: ResponderContext, scope: string): string {
  return createHash('sha256')
    .update(`${normalizeQuestion(context.message.text)}\u0000${context.user.modelId}\u0000${scope}`)
    .digest('hex')
    .slice(0, 32);
}
