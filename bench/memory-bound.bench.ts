/**
 * Does the memory tier's `maxBytes` bound the process's real memory? For each value shape, a memory-only cache with
 * `memory: { maxBytes: 8 MiB }` takes writes worth ~10× the bound, then (after a forced GC) the growth of V8 heap +
 * external memory (Buffer bytes) is compared with the bound. Target: ≤ 1.25× for every shape.
 *
 *   node --expose-gc --import ./bench/register.js bench/memory-bound.bench.ts
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CacheModule, CacheService } from 'nestjs-tiercache';

const MAX_BYTES = 8 * 1024 * 1024;
const gc = (globalThis as { gc?: () => void }).gc;

const shapes: { name: string; count: number; make: (i: number) => unknown }[] = [
  {
    name: 'small objects (~1 KB JSON)',
    count: 100_000,
    make: (i) => ({
      id: i,
      username: `user_${i}`,
      firstName: 'Ada',
      lastName: 'Lovelace',
      balance: 1234.56 + i,
      premium: i % 2 === 0,
      createdAt: '2026-11-22T10:00:00.000Z',
      settings: { theme: 'dark', locale: 'en-GB', notifications: true, digest: 'weekly' },
      tags: ['beta', 'telegram', 'paid', `cohort-${i % 50}`],
      history: Array.from({ length: 12 }, (_, j) => ({ at: 1_700_000_000_000 + j, amount: j * 1.5, note: `n${j}` })),
    }),
  },
  { name: 'long strings (64 KB)', count: 1_500, make: (i) => `${i}:`.padEnd(64 * 1024, 'x') },
  { name: 'non-Latin-1 strings (16 K chars)', count: 6_000, make: (i) => `${i}:`.padEnd(16 * 1024, 'ж') },
  { name: 'Buffers (32 KB)', count: 3_000, make: (i) => Buffer.alloc(32 * 1024, i % 256) },
  {
    name: 'Maps (50 entries)',
    count: 40_000,
    make: (i) => new Map(Array.from({ length: 50 }, (_, j) => [`k${j}`, i * 100 + j] as const)),
  },
];

function used(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

function settle(): void {
  for (let i = 0; i < 4; i++) gc?.();
}

async function measure(shape: (typeof shapes)[number]): Promise<string> {
  @Module({
    imports: [
      CacheModule.forRoot({
        prefix: 'mb',
        memory: { maxBytes: MAX_BYTES, maxEntries: Number(process.env.MB_ENTRIES ?? 10_000) },
      }),
    ],
  })
  class App {}
  const app = await NestFactory.createApplicationContext(App, { logger: false });
  const cache = app.get(CacheService);
  settle();
  const before = used();
  for (let i = 0; i < shape.count; i++) await cache.set('v', i, shape.make(i));
  settle();
  const grown = used() - before;
  const stats = cache.stats().memory;
  const ratio = grown / MAX_BYTES;
  const line = `${shape.name.padEnd(34)} ${String(shape.count).padStart(7)} ${String(stats?.entries ?? 0).padStart(8)} ${((stats?.bytes ?? 0) / 1048576).toFixed(2).padStart(9)} MiB ${(grown / 1048576).toFixed(2).padStart(8)} MiB ${ratio.toFixed(2).padStart(6)}× ${ratio <= 1.25 ? 'ok' : 'MISS'}`;
  await app.close();
  return line;
}

async function main(): Promise<void> {
  if (!gc) {
    process.stdout.write('memory-bound bench needs node --expose-gc; skipped\n');
    return;
  }
  process.stdout.write(
    `\nMemory tier byte bound — memory: { maxBytes: 8 MiB }, writes worth ~10× the bound, heap + external growth after GC (target ≤ 1.25×)\n`,
  );
  process.stdout.write(
    `${'shape'.padEnd(34)} ${'writes'.padStart(7)} ${'entries'.padStart(8)} ${'counted'.padStart(13)} ${'grown'.padStart(12)} ${'ratio'.padStart(7)}\n`,
  );
  for (const shape of shapes) process.stdout.write(`${await measure(shape)}\n`);
}

await main();
