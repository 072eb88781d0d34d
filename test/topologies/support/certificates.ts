import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A self-signed CA, a server certificate it signed (for 127.0.0.1), and a second, unrelated CA. */
export interface TestCertificates {
  /** Paths, for redis-server's `--tls-*-file` arguments. */
  files: { ca: string; cert: string; key: string };
  /** The CA that signed the server certificate (PEM). */
  ca: string;
  /** Another self-signed CA that signed nothing of ours (PEM): trusting only it must fail. */
  wrongCa: string;
  /** Removes the temp dir. */
  remove(): Promise<void>;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir, timeout: 30_000 });
}

/**
 * Makes a throwaway PKI with `openssl` in a temp dir: a CA, a server certificate for IP 127.0.0.1 / localhost
 * signed by it, and an unrelated CA (for the wrong-CA case). RSA 2048, valid 2 days.
 * @example const certs = await makeTestCertificates(); ...; await certs.remove();
 */
export async function makeTestCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'tiercache-tls-'));
  try {
    const selfSigned = (name: string, cn: string): Promise<void> =>
      openssl(
        dir,
        ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`].concat([
          '-days',
          '2',
          '-subj',
          `/CN=${cn}`,
        ]),
      );
    await selfSigned('ca', 'tiercache test CA');
    await selfSigned('wrong-ca', 'tiercache unrelated CA');
    await openssl(
      dir,
      ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr'].concat([
        '-subj',
        '/CN=127.0.0.1',
      ]),
    );
    await writeFile(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    await openssl(
      dir,
      ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial'].concat([
        '-out',
        'server.crt',
        '-days',
        '2',
        '-extfile',
        'ext.cnf',
      ]),
    );
    return {
      files: { ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') },
      ca: await readFile(join(dir, 'ca.crt'), 'utf8'),
      wrongCa: await readFile(join(dir, 'wrong-ca.crt'), 'utf8'),
      remove: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
