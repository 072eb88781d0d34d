// Types of peers.js for the TypeScript benches (the peer packages themselves stay out of the project's tsc).

/** The commands the benches send through a raw client. */
export interface RawRedis {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ...args: (string | number)[]): Promise<unknown>;
  ping(): Promise<string>;
  quit(): Promise<unknown>;
  disconnect(): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/** A peer cache reduced to its cache-aside call (`wrap` / `getOrSet`). */
export interface PeerCache {
  getOrSet<T>(key: string, load: () => Promise<T>, ttlMs: number): Promise<T>;
  set(key: string, value: unknown, ttlMs: number): Promise<void>;
  /** 'error' events the peer emitted (cache-manager / Keyv); 0 where the peer has none. */
  errors(): number;
  close(): Promise<void>;
}

export interface PeerOptions {
  /** Adds the peer's memory tier with this many entries. @default no memory tier */
  memoryEntries?: number;
}

export const versions: Record<string, string>;
export function ioredis5(options: { host: string; port: number }): RawRedis;
export function cacheManager(url: string, options?: PeerOptions): PeerCache;
export function bentocache(host: string, port: number, options?: PeerOptions): PeerCache;
