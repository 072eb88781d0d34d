import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheMetricNames } from 'nestjs-tiercache/metrics';
import { RedisServer } from '../harness/redis-server.js';
import { bootObservabilityApp } from './observability-app.js';
import type { ObservabilityApp } from './observability-app.js';
import { promtool } from './observability-app.js';

const DOCKER = join(process.cwd(), 'docker');

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { uid: string };
  targets?: { expr: string }[];
  panels?: Panel[];
}

const flatten = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...flatten(p.panels ?? [])]);

/** Every metric family a real scrape shows (with the series names a histogram expands to). */
function registeredNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const match of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = match;
    if (name === undefined) continue;
    names.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
  }
  return names;
}

let redis: RedisServer;
let app: ObservabilityApp;
let scraped: string;
beforeAll(async () => {
  redis = await RedisServer.start();
  app = await bootObservabilityApp({ cache: { prefix: 'obs-dash', redis: redis.url, memory: { maxEntries: 100 } } });
  app.repo.rows.set(1, { id: 1, name: 'a', balance: 1 });
  await app.repo.getUser(1);
  scraped = (await app.http().get('/metrics').expect(200)).text;
});
afterAll(async () => {
  await app?.close();
  await redis?.stop();
});

describe('docker/grafana dashboard', () => {
  it('references only metric names the module registers (compared with a real scrape), and every name it registers is documented', async () => {
    const dashboard = JSON.parse(await readFile(join(DOCKER, 'grafana/dashboards/tiercache.json'), 'utf8')) as {
      uid: string;
      panels: Panel[];
    };
    expect(dashboard.uid).toBe('tiercache');
    const panels = flatten(dashboard.panels).filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThanOrEqual(10);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);

    const registered = registeredNames(scraped);
    const used = new Set<string>();
    for (const panel of panels) {
      expect(panel.datasource?.uid).toBe('prometheus');
      expect(panel.targets?.length).toBeGreaterThan(0);
      for (const { expr } of panel.targets ?? []) {
        const names = [...expr.matchAll(/\bcache_[a-z0-9_]+/g)].map((m) => m[0]);
        expect(names.length).toBeGreaterThan(0);
        for (const name of names) {
          expect({ panel: panel.title, name, registered: registered.has(name) }).toEqual({
            panel: panel.title,
            name,
            registered: true,
          });
          used.add(name);
        }
      }
    }
    // The panels the issue asks for.
    const titles = panels.map((p) => p.title).join('\n');
    for (const title of [
      /Hit rate per namespace/,
      /p50/,
      /p99/,
      /Errors and timeouts/,
      /Redis used memory/,
      /Redis connected clients/,
      /Degraded/,
    ])
      expect(titles).toMatch(title);

    const docs = await readFile(join(process.cwd(), 'docs/observability.md'), 'utf8');
    for (const name of Object.values(cacheMetricNames())) {
      expect(registered.has(name)).toBe(true);
      expect({ name, documented: docs.includes(`\`${name}\``) }).toEqual({ name, documented: true });
    }
  });

  it('has PromQL that promtool parses (as recording rules) and a valid prometheus.yml scraping bot:3000', async () => {
    const dashboard = JSON.parse(await readFile(join(DOCKER, 'grafana/dashboards/tiercache.json'), 'utf8')) as {
      panels: Panel[];
    };
    const exprs = flatten(dashboard.panels).flatMap((p) =>
      (p.targets ?? []).map((t) => t.expr.replaceAll('$__rate_interval', '5m')),
    );
    const rules = [
      'groups:',
      '  - name: dashboard',
      '    rules:',
      ...exprs.flatMap((expr, i) => [`      - record: dashboard:expr_${i}`, `        expr: ${JSON.stringify(expr)}`]),
    ].join('\n');
    const dir = await mkdtemp(join(tmpdir(), 'tiercache-rules-'));
    try {
      await writeFile(join(dir, 'rules.yml'), `${rules}\n`);
      const checked = await promtool(['check', 'rules', join(dir, 'rules.yml')]);
      expect(checked.output).toContain(`SUCCESS: ${exprs.length} rules found`);
      expect(checked.code).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }

    const config = await promtool(['check', 'config', join(DOCKER, 'prometheus.yml')]);
    expect(config.code).toBe(0);
    const yml = await readFile(join(DOCKER, 'prometheus.yml'), 'utf8');
    expect(yml).toMatch(/targets: \[['"]bot:3000['"]\]/);
    expect(yml).toMatch(/metrics_path: \/metrics/);
    const provider = await readFile(join(DOCKER, 'grafana/provisioning/dashboards/tiercache.yml'), 'utf8');
    expect(provider).toContain('path: /var/lib/grafana/dashboards');
    const datasource = await readFile(join(DOCKER, 'grafana/provisioning/datasources/prometheus.yml'), 'utf8');
    expect(datasource).toContain('uid: prometheus');
    expect(datasource).toContain('url: http://prometheus:9090');
  });
});
