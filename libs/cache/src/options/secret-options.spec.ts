import { describe, expect, it } from '@jest/globals';
import { redact } from '../backends/redis/redis-client.factory.js';
import { resolveOptions } from './options.resolver.js';

const PEM = '-----BEGIN PRIVATE KEY-----\nMIIEvAIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----';

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected a throw');
}

describe('options holding secrets are never echoed in errors', () => {
  it.each([
    ['redis.tls', { redis: { tls: PEM } }],
    ['redis.password', { redis: { host: 'h', password: 1234 } }],
    ['redis.username', { redis: { host: 'h', username: { secret: 's3cret-user' } } }],
    ['redis.url', { redis: 'redis://u:s3cret@h:notaport' }],
    ['redis.sentinelPassword', { redis: { sentinels: [{ host: 'h', port: 1 }], name: 'm', sentinelPassword: 99 } }],
  ])('%s', (path, options) => {
    const message = messageOf(() => resolveOptions(options as never));
    expect(message).toContain(path.split('.')[1] === 'url' ? 'redis' : path);
    for (const secret of ['BEGIN', 'MIIEv', '1234', 's3cret', '99']) expect(message).not.toContain(secret);
  });
});

describe('redact', () => {
  it('removes credential values but keeps a server reply readable', () => {
    expect(redact('WRONGPASS invalid username-password pair or user is disabled.')).toBe(
      'WRONGPASS invalid username-password pair or user is disabled.',
    );
    expect(redact('redis://user:s3cret@h:1')).not.toContain('s3cret');
    expect(redact('{"password":"s3cret"}')).not.toContain('s3cret');
    expect(redact('password=s3cret and more')).not.toContain('s3cret');
  });
});
