// The reference registry for the tests that read what it writes: CNCF Distribution 2.8.2 from
// Debian's `docker-registry` package (what `registry:2` runs), on filesystem storage in a directory
// the test gives, on 127.0.0.1. scripts/install-test-deps.sh installs it; a test that needs it
// fails, never skips, when it is missing. Plus a client that pushes to it as Docker does (POST,
// then PUT with the digest: Distribution takes no single-POST upload).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import net from 'node:net';
import * as path from 'node:path';
import type { Blob, Manifest } from './content.js';
import { eventually } from './registry-client.js';

export const REFERENCE_BINARY = '/usr/bin/docker-registry';

export interface ReferenceRegistry {
  /** http://127.0.0.1:<port> */
  url: string;
  /** Everything it logged, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((ok, fail) => server.listen(0, '127.0.0.1', ok).once('error', fail));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((ok) => server.close(() => ok()));
  return port;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((ok) => child.once('exit', () => ok()));
}

/** Starts `docker-registry serve` over rootdirectory; resolves once GET /v2/ answers 200. */
export async function startReferenceRegistry(rootdirectory: string): Promise<ReferenceRegistry> {
  if (!existsSync(REFERENCE_BINARY)) {
    throw new Error(`${REFERENCE_BINARY} is missing: run scripts/install-test-deps.sh (Debian's docker-registry package)`);
  }
  const port = await freePort();
  const config = path.join(path.dirname(rootdirectory), `reference-${port}.yml`);
  // JSON is YAML. Deletes on, upload purging off (it would walk the tree at start), no access log.
  await fsp.writeFile(
    config,
    JSON.stringify({
      version: 0.1,
      log: { level: 'warn', accesslog: { disabled: true } },
      http: { addr: `127.0.0.1:${port}` },
      storage: { filesystem: { rootdirectory }, delete: { enabled: true }, maintenance: { uploadpurging: { enabled: false } } },
    }),
  );
  let output = '';
  // No REGISTRY_* variables from the caller's environment: they would override the config.
  const child = spawn(REFERENCE_BINARY, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited(child);
  };
  const up = await eventually(async () => {
    if (child.exitCode !== null) return true;
    return fetch(`${url}/v2/`).then(
      (res) => res.status === 200,
      () => false,
    );
  }, 15_000);
  if (!up || child.exitCode !== null) {
    await stop();
    throw new Error(`docker-registry did not start: ${output}`);
  }
  return { url, log: () => output, stop };
}

async function expectStatus(res: Response, status: number, what: string): Promise<Response> {
  if (res.status !== status) throw new Error(`${what}: ${res.status} ${await res.text()}`);
  return res;
}

/** Pushes a blob as Docker does: POST for a session, PUT of the bytes with ?digest=. */
export async function pushBlobTo(url: string, name: string, blob: Blob): Promise<void> {
  const started = await expectStatus(await fetch(`${url}/v2/${name}/blobs/uploads/`, { method: 'POST' }), 202, `start upload to ${name}`);
  const location = new URL(started.headers.get('location')!, url);
  location.searchParams.set('digest', blob.digest);
  await expectStatus(
    await fetch(location, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: blob.bytes }),
    201,
    `push of ${blob.digest} to ${name}`,
  );
}

/** Links a blob another repository holds (?mount=&from=), as Docker does for a shared layer. */
export async function mountBlobTo(url: string, name: string, from: string, blob: Blob): Promise<void> {
  const res = await fetch(`${url}/v2/${name}/blobs/uploads/?mount=${blob.digest}&from=${from}`, { method: 'POST' });
  await expectStatus(res, 201, `mount of ${blob.digest} from ${from} into ${name}`);
}

/** PUT of a manifest under a tag or its digest. */
export async function pushManifestTo(url: string, name: string, reference: string, manifest: Manifest): Promise<void> {
  const res = await fetch(`${url}/v2/${name}/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'Content-Type': manifest.mediaType },
    body: manifest.bytes,
  });
  await expectStatus(res, 201, `push of manifest ${reference} to ${name}`);
}
