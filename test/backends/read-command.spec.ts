import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Command, Redis } from 'ioredis';
import { ReadSender } from '../../libs/cache/src/backends/redis/read-sender.js';
import { ReadCommand, ReadDeadlines, readShapeOf } from '../../libs/cache/src/backends/redis/read-command.js';
import { RedisServer } from '../harness/redis-server.js';
import { withTimeout } from '../harness/with-timeout.js';

/**
 * A hit's read command on a real redis-server: what it sends, what it answers, and its deadline kept by one timer
 * per connection instead of a timer per command.
 */
describe('ReadCommand / ReadSender (real redis-server)', () => {
  let redis: RedisServer;
  let admin: Redis;
  const clients: Redis[] = [];

  const client = async (options: Record<string, unknown> = {}): Promise<Redis> => {
    const c = new Redis({
      host: redis.host,
      port: redis.port,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 200,
      ...options,
    });
    c.on('error', () => undefined);
    clients.push(c);
    await c.connect();
    return c;
  };

  beforeAll(async () => {
    redis = await RedisServer.start();
    admin = new Redis({ host: redis.host, port: redis.port });
  });

  afterEach(() => {
    redis.thaw();
    for (const c of clients.splice(0)) c.disconnect();
  });

  afterAll(async () => {
    admin.disconnect();
    await redis.stop();
  });

  it('reads at most max bytes with GETRANGE, whole values with GET, and answers null / empty when absent', async () => {
    const c = await client();
    await admin.set('rc:v', 'abcdefghij');
    const bounded = new ReadSender(c, 4);
    const whole = new ReadSender(c, undefined);
    expect((await bounded.send('rc:v'))?.toString()).toBe('abcde');
    expect((await whole.send('rc:v'))?.toString()).toBe('abcdefghij');
    expect(await whole.send('rc:absent')).toBeNull();
    expect((await bounded.send('rc:absent'))?.length).toBe(0);
    // Multi-byte keys: the RESP length is the key's UTF-8 length.
    await admin.set('rc:é€😀', 'x');
    expect((await whole.send('rc:é€😀'))?.toString()).toBe('x');
  });

  it('applies the client’s own keyPrefix, as its other commands do', async () => {
    const c = await client({ keyPrefix: 'pre:' });
    await admin.set('pre:rc:k', 'v1');
    expect((await new ReadSender(c, 100).send('rc:k'))?.toString()).toBe('v1');
  });

  it('rejects a read that gets no answer with "Command timed out", and keeps nothing once reads settle', async () => {
    const c = await client({ commandTimeout: 150 });
    const shape = readShapeOf(c, '100')!;
    expect(shape).toBeDefined();
    await admin.set('rc:t', 'v');
    // Answered reads: settled, then dropped as the next reads come.
    for (let i = 0; i < 50; i++) {
      const read = new ReadCommand('rc:t', shape);
      expect(((await c.sendCommand(read)) as Buffer).toString()).toBe('v');
    }
    expect(shape.deadlines.size).toBeLessThanOrEqual(1);

    redis.freeze();
    const reads = Array.from({ length: 20 }, () => c.sendCommand(new ReadCommand('rc:t', shape)));
    const outcomes = await withTimeout(Promise.allSettled(reads), 5_000, 'reads to a frozen server');
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      expect(String((outcome as PromiseRejectedResult).reason)).toMatch(/Command timed out/);
    }
    redis.thaw();
    // The server's late replies go to commands already settled; the connection keeps working.
    const after = new ReadCommand('rc:t', shape);
    const bytes = await withTimeout(c.sendCommand(after) as Promise<Buffer>, 5_000, 'read after unfreeze');
    expect(bytes.toString()).toBe('v');
    expect(shape.deadlines.size).toBeLessThanOrEqual(1);
  });

  it('times each read once from its first send, and keeps the others’ deadlines whatever order they settle in', async () => {
    const deadlines = new ReadDeadlines();
    // Never connected: the commands are timed and settled by hand.
    const c = new Redis({ lazyConnect: true });
    const shape = { ...readShapeOf(c, undefined)!, deadlines };
    const read = new ReadCommand('rc:x', shape);
    read.setTimeout(50);
    read.setTimeout(10_000); // a resend (Cluster redirect) does not restart the clock
    const other = new ReadCommand('rc:y', shape);
    other.setTimeout(60);
    other.resolve(Buffer.from('early')); // settled before the one in front of it
    await expect(withTimeout(read.promise, 5_000, 'the read')).rejects.toThrow('Command timed out');
    await expect(other.promise).resolves.toEqual(Buffer.from('early'));
    expect(deadlines.size).toBe(0);
  });

  it('keeps every deadline through the ring of reads growing while it has wrapped', async () => {
    const deadlines = new ReadDeadlines();
    const c = new Redis({ lazyConnect: true });
    const shape = { ...readShapeOf(c, undefined)!, deadlines };
    /** Each read, with the earliest time it may be timed out and when it settled. */
    const sent: { read: ReadCommand; due: number; settled: Promise<number> }[] = [];
    const send = (key: string, ms: number): ReadCommand => {
      const read = new ReadCommand(key, shape);
      const due = performance.now() + ms;
      read.setTimeout(ms);
      const at = (): number => performance.now();
      sent.push({ read, due, settled: read.promise.then(at, at) });
      return read;
    };
    // Five reads, one behind them left waiting, then the five answered: the next read drops them, so the ring's
    // front is mid-way while it fills and grows. (A connection's reads share one timeout: deadlines never decrease.)
    const answered = Array.from({ length: 5 }, (_, i) => send(`s${i}`, 100));
    send('w', 120);
    for (const read of answered) read.resolve(Buffer.from('s'));
    const reads = Array.from({ length: 40 }, (_, i) => send(`k${i}`, 130 + i));
    reads.forEach((read, i) => {
      if (i % 3 === 0) read.resolve(Buffer.from(`ok${i}`));
    });
    const outcomes = await withTimeout(Promise.allSettled(sent.map((s) => s.read.promise)), 5_000, 'reads');
    for (const [i, outcome] of outcomes.entries()) {
      const answer = i < 5 || (i > 5 && (i - 6) % 3 === 0);
      expect(outcome.status).toBe(answer ? 'fulfilled' : 'rejected');
      if (outcome.status === 'fulfilled') continue;
      expect(String(outcome.reason)).toMatch(/Command timed out/);
      // Never before its own deadline.
      expect(await sent[i]!.settled).toBeGreaterThanOrEqual(sent[i]!.due);
    }
    expect(deadlines.size).toBe(0);
  });

  it('times a burst of 3,000 reads in flight, and gives back the ring it grew once they are answered', async () => {
    const deadlines = new ReadDeadlines();
    const c = new Redis({ lazyConnect: true });
    const shape = { ...readShapeOf(c, undefined)!, deadlines };
    // One timeout for all, as a connection's reads have.
    const burst = Array.from({ length: 3_000 }, (_, i) => {
      const read = new ReadCommand(`b${i}`, shape);
      read.setTimeout(150);
      return read;
    });
    expect(deadlines.size).toBe(3_000);
    burst.forEach((read, i) => read.resolve(Buffer.from(String(i))));
    await expect(burst[2_999]!.promise).resolves.toEqual(Buffer.from('2999'));
    const next = new ReadCommand('after', shape);
    next.setTimeout(150);
    expect(deadlines.size).toBe(1);
    expect((deadlines as unknown as { reads: unknown[] }).reads.length).toBe(16);
    await expect(withTimeout(next.promise, 5_000, 'the read after')).rejects.toThrow('Command timed out');
  });

  it('writes what ioredis would write for the same command, the key alone in its arguments', () => {
    const c = new Redis({ lazyConnect: true });
    const bounded = readShapeOf(c, '1048602')!;
    const whole = readShapeOf(c, undefined)!;
    for (const key of ['p:user:=n42', 'p:é€😀:k', '']) {
      const read = new ReadCommand(key, bounded);
      expect(read.args).toEqual([key]);
      expect(read.toWritable(c)).toBe(new Command('getrange', [key, '0', '1048602']).toWritable(c));
      expect(new ReadCommand(key, whole).toWritable(c)).toBe(new Command('get', [key]).toWritable(c));
    }
    // A key that is not a string (no shape makes one): ioredis serializes it, range included.
    const odd = new ReadCommand(Buffer.from('p:k') as unknown as string, bounded);
    expect(String(odd.toWritable(c))).toBe(
      String(new Command('getrange', [Buffer.from('p:k'), '0', '1048602']).toWritable(c)),
    );
  });

  it('resolves with what its receiver makes of the reply (the key as given), and rejects error replies as they are', async () => {
    const c = await client({ keyPrefix: 'pre:' });
    await admin.set('pre:rc:r', 'abc');
    await admin.rpush('pre:rc:list', 'x');
    const seen: [string, string | null][] = [];
    const sender = new ReadSender(c, 100, (key, raw) => {
      seen.push([key, raw === null ? null : raw.toString()]);
      if (raw?.toString() === 'boom') throw new Error('receiver failed');
      return raw === null || raw.length === 0 ? 'absent' : `got ${raw.toString()}`;
    });
    expect(await sender.send('rc:r')).toBe('got abc');
    expect(await sender.send('rc:none')).toBe('absent');
    // Before the client's keyPrefix: the receiver gets the key the backend asked for.
    expect(seen).toEqual([
      ['rc:r', 'abc'],
      ['rc:none', ''],
    ]);
    // A key of another type: the error reply itself, for the backend to recover from (its receiver never runs).
    await expect(sender.send('rc:list')).rejects.toThrow(/WRONGTYPE/);
    expect(seen).toHaveLength(2);
    // A receiver that throws rejects that read only: the connection answers the next one.
    await admin.set('pre:rc:boom', 'boom');
    await expect(sender.send('rc:boom')).rejects.toThrow('receiver failed');
    expect(await sender.send('rc:r')).toBe('got abc');
  });

  it('gives a receiver the reply of a client from another copy of ioredis too', async () => {
    const foreign = {
      options: {},
      getrangeBuffer: (key: string, start: string, end: string) =>
        Promise.resolve(Buffer.from(`${key}[${start}..${end}]`)),
    } as unknown as Redis;
    const sender = new ReadSender(foreign, 10, (key, raw) => `${key} → ${raw?.toString() ?? 'null'}`);
    expect(await sender.send('k')).toBe('k → k[0..10]');
  });

  it('leaves a client from another copy of ioredis to its own methods', () => {
    const foreign = { options: {}, getBuffer: () => Promise.resolve(null) } as unknown as Redis;
    expect(readShapeOf(foreign, '10')).toBeUndefined();
  });
});
