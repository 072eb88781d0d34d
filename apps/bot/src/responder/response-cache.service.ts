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
 * The response cache (as seed 001 caches its model's replies, 24 h): the responder's answer is cached under a
 * fixed-length hash of the normalized question and the user's settings (model, language) — plus, as the responder's
 * `cacheScope` says, the files sent with the question (`question`) or the whole conversation state (`conversation`).
 * So by default a question asked again, in any case or spacing, in the same chat or another, is a hit. A cached
 * answer is still charged and still appended to the history, like any answer: the price pays for the bot's reply,
 * whoever produced it.
 */
@Injectable()
export class ResponseCache {
  constructor(
    private readonly cache: CacheService,
    private readonly responder: Responder,
    private readonly metrics: BotMetrics,
  ) {}

  /** The responder's answer, from the cache when the same question was answered with the same settings (and context). */
  async answer(context: ResponderContext): Promise<string> {
    const scope = this.responder.cacheScope;
    if (scope === 'none' || normalizeQuestion(context.message.text) === '') {
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
 * 32 hex digits of sha256 over the normalized question, the settings (model, language) and, by `scope`, the files sent
 * with the question or the whole conversation (name, history, thread files).
 * @example responseKey(ctx, 'question').length // 32
 */
export function responseKey(context: ResponderContext, scope: 'question' | 'conversation'): string {
  const own = context.files.slice(context.files.length - context.message.attachmentCount);
  const parts: unknown[] = [
    normalizeQuestion(context.message.text),
    context.user.modelId,
    context.user.languageCode ?? '',
    own.map((f) => [f.name, f.size, f.head]),
  ];
  if (scope === 'conversation')
    parts.push(
      context.user.firstName,
      context.history.map((m) => [m.role, m.text]),
      context.files.map((f) => [f.name, f.size, f.head]),
    );
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
}
