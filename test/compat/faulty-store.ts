// A Keyv storage adapter over a Map whose calls can be made to throw, hang or wait for a release, for the hostile
// and non-blocking tests of the compat stores adapter: the real Keyv runs on top of it (new Keyv({ store })).

/** How the adapter answers: normally, by throwing, never, or once `release()` is called. */
export type FaultMode = 'ok' | 'throw' | 'hang' | 'held';

/** A call the adapter received (the key as Keyv prefixed it). */
export interface FaultyCall {
  op: 'get' | 'set' | 'delete' | 'clear' | 'disconnect';
  key?: string;
}

/** The Keyv storage adapter contract (get, set, delete, clear), with faults injected per operation. */
export class FaultyStore {
  readonly data = new Map<string, unknown>();
  readonly calls: FaultyCall[] = [];
  /** Calls still unanswered (hung or held); rejected by `failPending()` to check nothing is left unhandled. */
  readonly pending: { reject: (err: Error) => void }[] = [];
  mode: Record<'get' | 'set' | 'delete', FaultMode> = { get: 'ok', set: 'ok', delete: 'ok' };
  namespace?: string;
  readonly opts = { dialect: 'faulty' };
  #held: (() => void)[] = [];

  async get(key: string): Promise<unknown> {
    await this.#enter('get', key);
    return this.data.get(key);
  }

  async set(key: string, value: unknown): Promise<boolean> {
    await this.#enter('set', key);
    this.data.set(key, value);
    return true;
  }

  async delete(key: string): Promise<boolean> {
    await this.#enter('delete', key);
    return this.data.delete(key);
  }

  async clear(): Promise<void> {
    this.calls.push({ op: 'clear' });
    this.data.clear();
  }

  async disconnect(): Promise<void> {
    this.calls.push({ op: 'disconnect' });
  }

  on(): this {
    return this;
  }

  /** Calls of `op` for keys other than the breaker's probe key. */
  count(op: FaultyCall['op']): number {
    return this.calls.filter((c) => c.op === op && !c.key?.includes('__tiercache_probe__')).length;
  }

  /** Lets every held call go on. */
  release(): void {
    for (const go of this.#held.splice(0)) go();
  }

  /** Rejects every call still hanging or held (after the cache has answered without them). */
  failPending(): void {
    for (const p of this.pending.splice(0)) p.reject(new Error('late failure of a hung store call'));
  }

  #enter(op: 'get' | 'set' | 'delete', key: string): Promise<void> {
    this.calls.push({ op, key });
    const mode = this.mode[op];
    if (mode === 'throw') return Promise.reject(new Error(`store ${op} failed`));
    if (mode === 'ok') return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ reject });
      if (mode === 'held') this.#held.push(resolve);
    });
  }
}
