import { CacheError } from '../errors/cache.error.js';
import { ErrorMessages } from '../errors/error-messages.js';
import type { CacheOperation, CacheOutcome, CacheRecorder, CacheTier } from './cache-recorder.js';

/** The part of @opentelemetry/api the recorder uses. */
interface TraceApi {
  trace: { getActiveSpan(): { addEvent(name: string, attributes: Record<string, string | number>): void } | undefined };
}

/**
 * OpenTelemetry span events for cache operations (`tracing: true`): every hit, miss, write, invalidation, stale
 * answer, error or timeout adds an event `tiercache.<operation>` to the caller's active span, with namespace, tier,
 * outcome and duration — never a key or a value. Loaded only when tracing is on (@opentelemetry/api is an optional
 * peer), and a no-op outside a span: zero cost when off.
 * @example telemetry.addRecorder(await tracingRecorder())
 */
export async function tracingRecorder(): Promise<CacheRecorder> {
  let api: TraceApi;
  try {
    api = (await import('@opentelemetry/api')) as unknown as TraceApi;
  } catch {
    throw new CacheError('E_INVALID_OPTION', ErrorMessages.tracingPeerMissing());
  }
  return {
    record(namespace: string, tier: CacheTier, operation: CacheOperation, outcome: CacheOutcome, ms?: number): void {
      const span = api.trace.getActiveSpan();
      if (span === undefined) return;
      span.addEvent(`tiercache.${operation}`, {
        'tiercache.namespace': namespace,
        'tiercache.tier': tier,
        'tiercache.outcome': outcome,
        ...(ms !== undefined ? { 'tiercache.duration_ms': Math.round(ms * 1000) / 1000 } : {}),
      });
    },
  };
}
