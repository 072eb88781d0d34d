import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { ChatMessage } from '../messages/chat-message.js';
import type { ResponderContext } from './responder.js';
import { Responder } from './responder.js';

const TRANSFORMS: Record<string, (text: string) => string> = {
  'echo-1': (text) => text,
  'reverse-1': (text) => [...text].reverse().join(''),
  'upper-1': (text) => text.toUpperCase(),
};

/**
 * The default responder: deterministic and local (no AI service). Its reply shows what it was given — the model's
 * transform of the text, how much history it saw with a digest of it, and the thread's files — so a test can check
 * that the history and files came through the cache exactly.
 */
@Injectable()
export class LocalResponder extends Responder {
  readonly models = Object.keys(TRANSFORMS);

  respond(context: ResponderContext): Promise<string> {
    const transform = TRANSFORMS[context.user.modelId] ?? TRANSFORMS['echo-1']!;
    const said =
      context.message.text === ''
        ? `(${context.message.attachmentCount} file${context.message.attachmentCount === 1 ? '' : 's'})`
        : `"${transform(context.message.text)}"`;
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
