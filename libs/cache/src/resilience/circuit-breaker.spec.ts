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
});
