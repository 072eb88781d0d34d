import { createHash } from 'node:crypto';
import type { ChatMessage } from '../messages/chat-message.js';
import type { ResponderContext, ResponseCacheScope } from './responder.js';
import { Responder } from './responder.js';

const TRANSFORMS: Record<string, (text: string) => string> = {
  'echo-1': (text) => text,
  'reverse-1': (text) => [...text].reverse().join(''),
  'upper-1': (text) => text.toUpperCase(),
};

/** Options of {@link LocalResponder}. */
export interface LocalResponderOptions {
  /**
   * Answer with the conversation too (the asker's name, a digest of the history, the thread's files), so a test can
   * check that the history and files came through the cache exactly; the response cache then keys on the context.
   * Without it the answer depends on the question, its files and the model only, and is reused for any repeat.
   * @default false
   */
  context?: boolean;
}

/**
 * The default responder: deterministic and local (no AI service). Its reply shows what it was given: the model's
 * transform of the text and the message's files, and with `context` also the history and the thread's files.
 */
export class LocalResponder extends Responder {
  readonly models = Object.keys(TRANSFORMS);
  override readonly cacheScope: ResponseCacheScope;
  private readonly withContext: boolean;

  constructor(options: LocalResponderOptions = {}) {
    super();
    this.withContext = options.context ?? false;
    this.cacheScope = this.withContext ? 'conversation' : 'question';
  }

  respond(context: ResponderContext): Promise<string> {
    const transform = TRANSFORMS[context.user.modelId] ?? TRANSFORMS['echo-1']!;
    const said =
      context.message.text === ''
        ? `(${context.message.attachmentCount} file${context.message.attachmentCount === 1 ? '' : 's'})`
        : `"${transform(context.message.text)}"`;
    if (!this.withContext) {
      const own = context.files.slice(context.files.length - context.message.attachmentCount);
      const lines = [`[${context.user.modelId}] ${said}`];
      if (own.length > 0) lines.push(`files: ${own.map((f) => `${f.name} (${f.size} B, ${f.head})`).join(', ')}`);
      return Promise.resolve(lines.join('\n'));
    }
    const lines = [
      `[${context.user.modelId}] ${context.user.firstName}: ${said}`,
      `context: ${context.history.length} earlier messages #${historyDigest(context.history)}`,
    ];
    if (context.files.length > 0)
      lines.push(`files: ${context.files.map((f) => `${f.name} (${f.size} B, ${f.head})`).join(', ')}`);
    return Promise.resolve(lines.join('\n'));
  }
}

/**
 * 8 hex digits over the ids, roles and texts of `history`: equal iff the same messages, in the same order.
 * @example historyDigest([]) // 'e3b0c442'
 */
export function historyDigest(history: readonly ChatMessage[]): string {
  const hash = createHash('sha256');
  for (const m of history) hash.update(`${m.id}\u0000${m.role}\u0000${m.text}\u0001`);
  return hash.digest('hex').slice(0, 8);
}
