/**
 * Where a Redis hit's time goes: one sequential hit loop (concurrency 1) of tiercache (`@Cached`, Redis only) or of
 * raw ioredis 6 (GET + JSON.parse), for a CPU profile and per-hit CPU on both sides.
 *
 *   PROFILE_OUT=.tmp/hit.cpuprofile node --import ./bench/register.js bench/hit-profile.ts tiercache
 *   node --import ./bench/register.js bench/hit-profile.ts raw
 *
 * With PROFILE_OUT, V8's sampling profiler (what `node --cpu-prof` uses) records the measured loop only, not the
 * boot; the top self-time frames are printed and the profile is written there (open it in Chrome DevTools).
 * Prints client CPU per hit (`process.cpuUsage`), redis-server CPU per hit (`INFO cpu`) and the commands a hit sends
 * with their `usec_per_call` (`INFO commandstats`; commands a Lua script calls are counted too). Env: PROFILE_MS
 * (default 5000).
 */
import 'reflect-metadata';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import { Cached, CacheModule } from 'nestjs-tiercache';
import { RedisServer } from '../test/harness/redis-server.js';

const MS = Number(process.env.PROFILE_MS ?? 5_000);
const KEYS = 1024;
const target = process.argv[2] === 'raw' ? 'raw' : 'tiercache';

const value = (id: number): Record<string, unknown> => ({
  id,
  username: `user_${String(id).padStart(6, '0')}`,
  firstName: 'Ada',
  lastName: 'Lovelace',
  languageCode: 'en',
  isPremium: true,
  balance: '1234.56',
  modelId: 'gpt-4o-mini',
  threadId: 9_000_000 + id,
  createdAt: '2026-11-22T10:00:00.000Z',
  settings: { notifications: true, theme: 'dark', locale: 'en-GB' },
  tags: ['beta', 'telegram'],
});

@Injectable()
class ProfileService {
  @Cached({ namespace: 'profile', key: (id: number) => id })
  async getProfile(id: number): Promise<Record<string, unknown>> {
    return value(id);
  }
}

@Module({})
class ProfileModule {}

async function counters(admin: Redis): Promise<{ cpuUs: number; cmds: Map<string, [number, number]> }> {
  const info = await admin.info('all');
  const num = (k: string): number => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  const cmds = new Map<string, [number, number]>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm))
    cmds.set(m[1]!, [Number(m[2]), Number(m[3])]);
  return { cpuUs: (num('used_cpu_user') + num('used_cpu_sys')) * 1e6, cmds };
}

interface Profile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples?: number[];
  timeDeltas?: number[];
}

/** The 15 frames with the most self time, as a share of all samples (idle included: time spent waiting on Redis). */
function printTop(profile: Profile): void {
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const self = new Map<string, number>();
  let total = 0;
  (profile.samples ?? []).forEach((id, i) => {
    const dt = profile.timeDeltas?.[i] ?? 0;
    const f = frames.get(id);
    if (f === undefined) return;
    const where = f.url.replace(/^.*?\/(node_modules\/|libs\/cache\/src\/)/, '$1');
    const name = `${f.functionName || '(anonymous)'}${where === '' ? '' : ` ${where}:${f.lineNumber + 1}`}`;
    self.set(name, (self.get(name) ?? 0) + dt);
    total += dt;
  });
  console.log('self time  frame');
  for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 15))
    console.log(`${((us / total) * 100).toFixed(1).padStart(8)}%  ${name}`);
}

async function main(): Promise<void> {
  const server = await RedisServer.start();
  const admin = new Redis({ host: server.host, port: server.port });
  const closers: (() => Promise<unknown>)[] = [() => admin.quit()];
  try {
    let op: (i: number) => Promise<unknown>;
    if (target === 'raw') {
      const raw = new Redis({ host: server.host, port: server.port });
      closers.push(() => raw.quit());
      await Promise.all(Array.from({ length: KEYS }, (_, i) => raw.set(`raw:${i}`, JSON.stringify(value(i)))));
      op = async (i) => JSON.parse((await raw.get(`raw:${i}`))!);
    } else {
      const app = await NestFactory.createApplicationContext(
        {
          module: ProfileModule,
          imports: [CacheModule.forRoot({ redis: server.url, prefix: 'prof', defaultTtl: '1h', isGlobal: true })],
          providers: [ProfileService],
        },
        { logger: false },
      );
      closers.push(() => app.close());
      const svc = app.get(ProfileService);
      op = (i) => svc.getProfile(i);
    }
    for (let i = 0; i < KEYS; i++) await op(i); // fill (tiercache) and warm
    const warmEnd = performance.now() + 1_000;
    for (let i = 0; performance.now() < warmEnd; i++) await op(i % KEYS);

    const session = process.env.PROFILE_OUT === undefined ? undefined : new Session();
    if (session !== undefined) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 100 });
      await session.post('Profiler.start');
    }
    const before = await counters(admin);
    const cpu = process.cpuUsage();
    const end = performance.now() + MS;
    let n = 0;
    while (performance.now() < end) await op(n++ % KEYS);
    const used = process.cpuUsage(cpu);
    const after = await counters(admin);
    if (session !== undefined) {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      await writeFile(process.env.PROFILE_OUT!, JSON.stringify(profile));
      printTop(profile);
    }

    const cmds = [...after.cmds]
      .filter(([name]) => name !== 'info')
      .map(([name, [calls, usec]]) => {
        const [c0, u0] = before.cmds.get(name) ?? [0, 0];
        return { name, perHit: (calls - c0) / n, usecPerCall: calls > c0 ? (usec - u0) / (calls - c0) : 0 };
      })
      .filter((c) => c.perHit >= 0.01);
    console.log(
      `${target}: ${n} hits in ${MS} ms (${((n / MS) * 1000).toFixed(0)}/s); client CPU ${((used.user + used.system) / n).toFixed(2)} µs/hit ` +
        `(user ${(used.user / n).toFixed(2)}, sys ${(used.system / n).toFixed(2)}); redis CPU ${((after.cpuUs - before.cpuUs) / n).toFixed(2)} µs/hit; ` +
        `commands/hit: ${cmds.map((c) => `${c.name}×${c.perHit.toFixed(2)} @${c.usecPerCall.toFixed(2)}µs`).join(', ')}`,
    );
  } finally {
    const keepAlive = setInterval(() => undefined, 1_000);
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await server.stop();
    clearInterval(keepAlive);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
