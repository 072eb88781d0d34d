import { describe, expect, it } from '@jest/globals';
import { CircuitBreaker } from './circuit-breaker.js';
import type { CircuitState } from './circuit-breaker.js';

describe('CircuitBreaker', () => {
  const make = () => {
    let t = 0;
    const changes: CircuitState[] = [];
    const breaker = new CircuitBreaker({ threshold: 3, probeIntervalMs: 1000 }, (s) => changes.push(s), () => t);
    return { breaker, changes, advance: (ms: number) => (t += ms) };
  };

  it('opens after consecutive failures only', () => {
    const { breaker, changes } = make();
    breaker.failure();
    breaker.failure();
    breaker.success();
    breaker.failure();
    breaker.failure();
    expect(breaker.allow()).toBe(true);
    breaker.failure();
    expect(breaker.state).toBe('open');
    expect(breaker.allow()).toBe(false);
    expect(changes).toEqual(['open']);
  });

  it('lets one probe through per interval and closes on its success', () => {
    const { breaker, changes, advance } = make();
    for (let i = 0; i < 3; i++) breaker.failure();
    advance(999);
    expect(breaker.allow()).toBe(false);
    advance(1);
    expect(breaker.allow()).toBe(true);
    expect(breaker.allow()).toBe(false);
    expect(breaker.state).toBe('half-open');
    breaker.failure();
    expect(breaker.state).toBe('open');
    expect(breaker.allow()).toBe(false);
    advance(1000);
    expect(breaker.allow()).toBe(true);
    breaker.success();
    expect(breaker.state).toBe('closed');
    expect(breaker.allow()).toBe(true);
    expect(changes).toEqual(['open', 'closed']);
  });
});
