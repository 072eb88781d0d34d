import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { validateEnv } from '../../apps/bot/src/config/env.validation.js';

const root = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');

interface ComposeService {
  build?: { context: string; dockerfile: string };
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test: string[] };
  ports?: string[];
}

/** Every variable validateEnv reads, found by handing it an environment that records the names it is asked for. */
function variablesRead(): string[] {
  const seen = new Set<string>();
  validateEnv(
    new Proxy({} as Record<string, string | undefined>, { get: (_t, name) => (seen.add(String(name)), undefined) }),
  );
  return [...seen];
}

describe('docker/ and the environment documentation', () => {
  // `docker compose` v2 is not installed here and Debian's docker-compose may not be: the file is checked as YAML,
  // and additionally with `docker-compose config` when that client exists (it needs no engine).
  const compose = parse(read('docker/compose.yaml')) as {
    services: Record<string, ComposeService>;
    volumes: Record<string, unknown>;
    name?: string;
    version?: string;
  };

  it('compose.yaml runs the bot with PostgreSQL, Redis 7, Prometheus and Grafana', () => {
    expect(compose.name).toBeUndefined();
    expect(compose.version).toBeUndefined();
    expect(Object.keys(compose.services).sort()).toEqual([
      'bot',
      'grafana',
      'postgres',
      'prometheus',
      'proxy',
      'redis',
    ]);
    const { bot, redis, postgres, prometheus, grafana, proxy } = compose.services as Record<string, ComposeService>;
    // The bot is reached through the proxy only, so `--scale bot=3` needs no port per instance.
    expect(bot!.ports).toBeUndefined();
    expect(proxy!.ports).toEqual(['3000:3000']);
    expect(proxy!.volumes).toContain('./proxy.conf:/etc/nginx/conf.d/default.conf:ro');
    expect(read('docker/proxy.conf')).toMatch(
      /resolver 127\.0\.0\.11[^;]*;[\s\S]*set \$bot http:\/\/bot:3000;[\s\S]*proxy_pass \$bot;/,
    );
    // No well-known default for the secrets: compose refuses to start without them.
    expect(bot!.environment?.['TELEGRAM_SECRET_TOKEN']).toMatch(/^\$\{TELEGRAM_SECRET_TOKEN:\?/);
    expect(bot!.environment?.['ADMIN_TOKEN']).toMatch(/^\$\{ADMIN_TOKEN:\?/);
    expect(bot!.build).toEqual({ context: '..', dockerfile: 'docker/Dockerfile' });
    expect(bot!.environment).toMatchObject({
      DATABASE_URL: 'postgres://bot:bot@postgres:5432/bot',
      REDIS_URL: 'redis://redis:6379',
    });
    expect(bot!.depends_on).toEqual({
      postgres: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
    });
    expect(redis!.image).toMatch(/^redis:7/);
    expect(redis!.command).toEqual(['redis-server', '/usr/local/etc/redis/redis.conf']);
    expect(redis!.volumes).toContain('./redis.conf:/usr/local/etc/redis/redis.conf:ro');
    expect(postgres!.image).toMatch(/^postgres:/);
    expect(postgres!.healthcheck?.test.join(' ')).toContain('pg_isready');
    expect(prometheus!.volumes).toContain('./prometheus.yml:/etc/prometheus/prometheus.yml:ro');
    expect(grafana!.volumes?.some((v) => v.startsWith('./grafana/'))).toBe(true);
    // Every variable the bot is given exists.
    const known = variablesRead();
    for (const name of Object.keys(bot!.environment ?? {})) expect(known).toContain(name);
  });

  it('redis.conf has the cache settings: 512mb, allkeys-lru, appendonly, fsync every second', () => {
    const settings = new Map(
      read('docker/redis.conf')
        .split('\n')
        .filter((line) => line.trim() !== '' && !line.startsWith('#'))
        .map((line) => {
          const [key = '', ...rest] = line.trim().split(/\s+/);
          return [key, rest.join(' ')] as const;
        }),
    );
    expect(settings.get('maxmemory')).toBe('512mb');
    expect(settings.get('maxmemory-policy')).toBe('allkeys-lru');
    expect(settings.get('appendonly')).toBe('yes');
    expect(settings.get('appendfsync')).toBe('everysec');
  });

  it('the Dockerfile is multi-stage and runs the compiled app as a non-root user', () => {
    const dockerfile = read('docker/Dockerfile');
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(3);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/apps\/bot\/main\.js"\]$/m);
  });

  const dockerCompose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
  (dockerCompose.status === 0 ? it : it.skip)('docker-compose config accepts compose.yaml (no engine needed)', () => {
    const result = spawnSync('docker-compose', ['-f', 'docker/compose.yaml', 'config', '-q'], {
      cwd: new URL('.', root).pathname,
      encoding: 'utf8',
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('.env.example documents every variable the bot reads', () => {
    const example = read('.env.example');
    for (const name of variablesRead()) expect(example).toMatch(new RegExp(`^# ${name}=`, 'm'));
  });
});
