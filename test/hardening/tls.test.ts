// TLS from http.tls (Distribution's keys): the server `stowage serve` starts speaks HTTPS with the
// configured certificate and key, honours minimumtls, and with clientcas accepts only clients
// presenting a certificate from those CAs. Certificates are made with openssl for the test.
import * as fsp from 'node:fs/promises';
import https from 'node:https';
import http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { configFrom } from '../../server/config.js';
import { silentLogger } from '../../server/logger.js';
import { startServer, tlsOptions, type RunningServer } from '../../server/serve.js';
import { issue, makeRootCa, type Issued } from '../auth/certificates.js';

let dir: string;
let ca: Issued;
let serverCert: Issued;
let clientCert: Issued;
let strangerClient: Issued;

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'stowage-tls-'));
  ca = makeRootCa(dir, 'ca');
  serverCert = issue(dir, ca, 'server', { altNames: ['IP:127.0.0.1', 'DNS:localhost'] });
  clientCert = issue(dir, ca, 'client');
  strangerClient = issue(dir, makeRootCa(dir, 'stranger-ca'), 'stranger-client');
});

afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

function get(port: number, options: https.RequestOptions = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/v2/', ca: ca.cert, agent: false, ...options }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('TLS from http.tls', () => {
  let running: RunningServer | undefined;

  async function start(tls: Record<string, unknown>) {
    const root = await fsp.mkdtemp(path.join(dir, 'root-'));
    running = await startServer(
      configFrom({
        http: { addr: '127.0.0.1:0', draintimeout: '1s', tls },
        log: { level: 'error' },
        storage: { filesystem: { rootdirectory: root } },
      }),
      silentLogger(),
    );
    return running.port;
  }

  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('serves the API over HTTPS with the configured certificate', async () => {
    const port = await start({ certificate: serverCert.certFile, key: serverCert.keyFile });
    const res = await get(port);
    expect(res.status).toBe(200);
    expect(res.body).toBe('{}');
  });

  it('does not answer plain HTTP on the TLS port', async () => {
    const port = await start({ certificate: serverCert.certFile, key: serverCert.keyFile });
    const outcome = await new Promise<string>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/v2/', agent: false }, (res) => {
        res.resume();
        resolve(`status ${res.statusCode}`);
      });
      req.on('error', (err) => resolve(`error ${(err as NodeJS.ErrnoException).code}`));
      req.setTimeout(5000, () => req.destroy(new Error('timeout')));
      req.end();
    });
    expect(outcome).not.toBe('status 200');
  });

  it('refuses clients below minimumtls', async () => {
    const port = await start({ certificate: serverCert.certFile, key: serverCert.keyFile, minimumtls: 'tls1.3' });
    await expect(get(port, { maxVersion: 'TLSv1.2' })).rejects.toThrow();
    expect((await get(port, { minVersion: 'TLSv1.3' })).status).toBe(200);
  });

  it('with clientcas, accepts only clients with a certificate from those CAs', async () => {
    const port = await start({ certificate: serverCert.certFile, key: serverCert.keyFile, clientcas: [ca.certFile] });
    await expect(get(port)).rejects.toThrow();
    await expect(get(port, { cert: strangerClient.cert, key: strangerClient.key })).rejects.toThrow();
    expect((await get(port, { cert: clientCert.cert, key: clientCert.key })).status).toBe(200);
  });

  it('refuses half a TLS configuration, letsencrypt and unknown TLS versions with a message naming the key', () => {
    const config = (tls: Record<string, unknown>) => configFrom({ http: { tls } });
    expect(() => tlsOptions(config({ certificate: serverCert.certFile }))).toThrow(/http.tls needs both certificate and key/);
    expect(() => tlsOptions(config({ letsencrypt: { cachefile: 'x' } }))).toThrow(/letsencrypt is not supported/);
    expect(() => tlsOptions(config({ certificate: serverCert.certFile, key: serverCert.keyFile, minimumtls: 'ssl3' }))).toThrow(
      /http.tls.minimumtls/,
    );
    expect(() => tlsOptions(config({ certificate: path.join(dir, 'missing.crt'), key: serverCert.keyFile }))).toThrow(
      /http.tls.certificate: cannot read/,
    );
    expect(tlsOptions(configFrom({}))).toBeUndefined();
  });
});
