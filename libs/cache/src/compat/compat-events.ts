import { EventEmitter } from 'node:events';
import { CacheError } from '../errors/cache.error.js';
import { ErrorMessages } from '../errors/error-messages.js';
import type { CacheEvents } from './cache-manager.interface.js';

const EVENTS: ReadonlySet<string> = new Set(['get', 'mget', 'set', 'mset', 'del', 'mdel', 'clear', 'ttl', 'refresh']);

/**
 * The events of a `CACHE_MANAGER` (`cache.on('set', ...)`), as cache-manager 7's; only its event names are
 * accepted, so no listener piles up under an arbitrary name. An event without listeners costs nothing.
 * @example events.on('set', ({ key }) => seen.push(key)); events.emit('set', { key, value });
 */
export class CompatEvents {
  readonly #emitter = new EventEmitter();

  on(event: unknown, listener: unknown): void {
    this.#emitter.on(eventOf('on', event), listenerOf('on', listener));
  }

  off(event: unknown, listener: unknown): void {
    this.#emitter.off(eventOf('off', event), listenerOf('off', listener));
  }

  emit(event: keyof CacheEvents, payload: object): void {
    if (this.#emitter.listenerCount(event) > 0) this.#emitter.emit(event, payload);
  }

  /** `clear` carries no payload (or the error), as cache-manager's. */
  emitClear(error?: unknown): void {
    if (this.#emitter.listenerCount('clear') === 0) return;
    if (error === undefined) this.#emitter.emit('clear');
    else this.#emitter.emit('clear', error);
  }
}

function eventOf(where: string, event: unknown): string {
  if (typeof event === 'string' && EVENTS.has(event)) return event;
  throw new CacheError(
    'E_MISUSE',
    ErrorMessages.misuse(
      `cache.${where}`,
      `"${String(event).slice(0, 40)}" is not a cache event`,
      `one of ${[...EVENTS].join(', ')}`,
    ),
  );
}

function listenerOf(where: string, listener: unknown): (...args: unknown[]) => void {
  if (typeof listener === 'function') return listener as (...args: unknown[]) => void;
  throw new CacheError(
    'E_MISUSE',
    ErrorMessages.misuse(`cache.${where}`, 'the listener is not a function', '(data) => ...'),
  );
}
