import { describe, expect, it } from '@jest/globals';
import { CircuitBreaker } from './circuit-breaker.js';
import type { CircuitState } from './circuit-breaker.js';

describe('CircuitBreaker', () => {
  it('opens after consecutive failures only, and stays open (callers never probe) until reset', () => {
    const changes: CircuitState[] = [];
    const breaker = new CircuitBreaker({ threshold: 3 }, (s) => changes.push(s));
    breaker.failure();
    breaker.failure();
    breaker.success();
    breaker.failure();
    breaker.failure();
    expect(breaker.allow()).toBe(true);
    breaker.failure();
    expect(breaker.state).toBe('open');
    expect(breaker.allow()).toBe(false);
    breaker.failure();
    expect(breaker.allow()).toBe(false);
    expect(changes).toEqual(['open']);
    breaker.reset();
    expect(breaker.state).toBe('closed');
    expect(breaker.allow()).toBe(true);
    expect(changes).toEqual(['open', 'closed']);
  });

  it('reports every success that follows failures, opened or not (so work queued by a short blip is redone)', () => {
    let recovered = 0;
    const breaker = new CircuitBreaker({ threshold: 3, onRecovered: () => recovered++ });
    breaker.success();
    expect(recovered).toBe(0);
    breaker.failure();
    breaker.success();
    breaker.success();
    expect(recovered).toBe(1);
    for (let i = 0; i < 3; i++) breaker.failure();
    breaker.reset();
    expect(recovered).toBe(2);
  });
});
