// Scale-out: three stowage replicas (createApp over three RegistryStorage instances, each with its
// own driver and caches, real HTTP servers on 127.0.0.1) on one s3rver bucket and one PostgreSQL
// database, as the README's replicas run. Any replica can serve any request: a push whose
// requests go round-robin succeeds, what one replica stores the others serve, a moved tag is
// served by every replica on its next request (the change announced through PostgreSQL drops
// it from their caches; no TTL to wait out), and an upload survives the replica it began on dying
// mid-chunk.
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RegistryStorage } from '../../storage/registry.js';
import { applied } from '../helpers/change-feed.js';
import { existingStore } from '../helpers/drivers.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startS3rver, type S3rverInstance } from '../helpers/s3rver.js';
import { startTestRegistry } from '../helpers/test-registry.js';

const MiB = 1024 * 1024;
/** Far longer than any test: a replica that serves a moved tag did not wait for its cache to expire. */
const TTL = '1h';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

function digestOf(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function blob(size: number, seed: number): Buffer<ArrayBuffer> {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4096) out.writeUInt32LE((seed * 2654435761 + i * 40503) >>> 0, i);
  return out;
}

function manifest(config: Buffer, layers: Buffer[], note: string): Buffer<ArrayBuffer> {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digestOf(l), size: l.length })),
      annotations: { note },
    }),
  );
}

/** A TCP relay between one replica and the S3 server, so a test can cut that replica off at once. */
async function relay(targetPort: number): Promise<{ port: number; cut(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    pipeline(client, upstream).catch(() => upstream.destroy());
    pipeline(upstream, client).catch(() => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    async cut() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

interface Replica {
  url: string;
  storage: RegistryStorage;
  /** Stops the replica as a crash would: its connections and its storage traffic end at once. */
  kill(): Promise<void>;
}

async function startReplica(s3: S3rverInstance, database: TestDatabase): Promise<Replica> {
  const link = await relay(s3.port);
  const settings = { regionendpoint: `http://127.0.0.1:${link.port}`, rootdirectory: 'registry' };
  // Each replica with its own driver, storage and caches, over the bucket through its relay.
  const store = existingStore({ root: `s3://${s3.bucket}/registry`, driver: () => s3.driver(settings), config: { s3: s3.settings(settings) } });
  const reg = await startTestRegistry(store, { cacheTtl: TTL, database: { url: database.url } });
  let killed = false;
  return {
    url: reg.url,
    storage: reg.storage,
    async kill() {
      if (killed) return;
      killed = true;
      const closed = reg.cleanup();
      await link.cut();
      await closed;
    },
  };
}

/** A client that sends each request to the next replica in turn. */
class RoundRobin {
  private turn = 0;
  readonly log: string[] = [];

  constructor(private readonly replicas: Replica[]) {}

  async send(path: string, init: RequestInit = {}): Promise<Response> {
    const replica = this.replicas[this.turn++ % this.replicas.length];
    this.log.push(`${init.method ?? 'GET'} ${replica.url}`);
    return fetch(replica.url + path, init);
  }
}

async function expectStatus(response: Response, status: number): Promise<Response> {
  if (response.status !== status) throw new Error(`expected ${status}, got ${response.status}: ${await response.text()}`);
  return response;
}

/** A chunked push (POST, PATCH per chunk, PUT) through the given sender. Returns the digest. */
async function pushChunked(
  send: (path: string, init?: RequestInit) => Promise<Response>,
  name: string,
  content: Buffer<ArrayBuffer>,
  chunkSize: number,
): Promise<string> {
  const digest = digestOf(content);
  let location = (await expectStatus(await send(`/v2/${name}/blobs/uploads/`, { method: 'POST' }), 202)).headers.get('location')!;
  for (let at = 0; at < content.length; at += chunkSize) {
    const chunk = content.subarray(at, at + chunkSize);
    const answer = await expectStatus(
      await send(location, {
        method: 'PATCH',
        body: chunk,
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${at}-${at + chunk.length - 1}` },
      }),
      202,
    );
    expect(answer.headers.get('range')).toBe(`0-${at + chunk.length - 1}`);
    location = answer.headers.get('location')!;
  }
  await expectStatus(await send(`${location}${location.includes('?') ? '&' : '?'}digest=${digest}`, { method: 'PUT' }), 201);
  return digest;
}

async function pushManifest(
  send: (path: string, init?: RequestInit) => Promise<Response>,
  name: string,
  tag: string,
  bytes: Buffer<ArrayBuffer>,
): Promise<void> {
  await expectStatus(await send(`/v2/${name}/manifests/${tag}`, { method: 'PUT', body: bytes, headers: { 'Content-Type': OCI_MANIFEST } }), 201);
}

async function tagDigest(replica: Replica, name: string, tag: string): Promise<string | null> {
  const answer = await fetch(`${replica.url}/v2/${name}/manifests/${tag}`, { method: 'HEAD', headers: { Accept: OCI_MANIFEST } });
  return answer.headers.get('docker-content-digest');
}

describe('three replicas on one bucket and one PostgreSQL database', () => {
  let s3: S3rverInstance;
  let database: TestDatabase;
  let replicas: Replica[];

  beforeEach(async () => {
    s3 = await startS3rver();
    database = await createTestDatabase();
    replicas = [await startReplica(s3, database), await startReplica(s3, database), await startReplica(s3, database)];
  });

  afterEach(async () => {
    for (const replica of replicas ?? []) await replica.kill();
    await database?.drop();
    await s3?.close();
  });

  it('takes a chunked push whose every request lands on a different replica, and serves it from each', async () => {
    const client = new RoundRobin(replicas);
    const send = (path: string, init?: RequestInit) => client.send(path, init);
    const layer = blob(13 * MiB + 12345, 1);
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const layerDigest = await pushChunked(send, 'team/app', layer, 3 * MiB);
    await pushChunked(send, 'team/app', config, 1024);
    const image = manifest(config, [layer], 'v1');
    await pushManifest(send, 'team/app', 'v1', image);
    // The push touched every replica, and never the same one twice in a row.
    expect(new Set(client.log.map((l) => l.split(' ')[1])).size).toBe(3);

    for (const replica of replicas) {
      const pulled = await expectStatus(await fetch(`${replica.url}/v2/team/app/manifests/v1`, { headers: { Accept: OCI_MANIFEST } }), 200);
      expect(Buffer.from(await pulled.arrayBuffer()).equals(image)).toBe(true);
      const bytes = Buffer.from(await (await expectStatus(await fetch(`${replica.url}/v2/team/app/blobs/${layerDigest}`), 200)).arrayBuffer());
      expect(digestOf(bytes)).toBe(layerDigest);
    }
    const catalog = (await (await fetch(`${replicas[2].url}/v2/_catalog`)).json()) as { repositories: string[] };
    expect(catalog.repositories).toEqual(['team/app']);
  });

  it('serves through one replica a manifest pushed through another', async () => {
    const [a, b] = replicas;
    const layer = blob(64 * 1024, 2);
    const config = Buffer.from('{}');
    const viaA = (path: string, init?: RequestInit) => fetch(a.url + path, init);
    await pushChunked(viaA, 'solo', layer, layer.length);
    await pushChunked(viaA, 'solo', config, config.length);
    const image = manifest(config, [layer], 'solo');
    await expectStatus(await fetch(`${b.url}/v2/solo/manifests/latest`, { headers: { Accept: OCI_MANIFEST } }), 404);
    await pushManifest(viaA, 'solo', 'latest', image);
    const pulled = await expectStatus(await fetch(`${b.url}/v2/solo/manifests/${digestOf(image)}`, { headers: { Accept: OCI_MANIFEST } }), 200);
    expect(Buffer.from(await pulled.arrayBuffer()).equals(image)).toBe(true);
  });

  it('serves a tag moved through one replica from the others on their next request', async () => {
    const [a, b, c] = replicas;
    const viaA = (path: string, init?: RequestInit) => fetch(a.url + path, init);
    const config = Buffer.from('{}');
    const layer = blob(4096, 3);
    await pushChunked(viaA, 'moving', config, config.length);
    await pushChunked(viaA, 'moving', layer, layer.length);
    const first = manifest(config, [layer], 'first');
    const second = manifest(config, [layer], 'second');
    // (Each replica hears of every push, its own too: wait for that before reading and caching.)
    const pushed = replicas.map((r) => applied(r.storage, { kind: 'tag', repository: 'moving', tag: 'latest' }));
    await pushManifest(viaA, 'moving', 'latest', first);
    await Promise.all(pushed);
    // b and c read the tag, so their caches now hold the first digest.
    expect(await tagDigest(b, 'moving', 'latest')).toBe(digestOf(first));
    expect(await tagDigest(c, 'moving', 'latest')).toBe(digestOf(first));

    // From the cache (the manifest fast path answers these HEADs): still the first digest.
    expect(b.storage.cachedManifest('moving', 'latest')?.digest).toBe(digestOf(first));

    // The announcement of the move reaches b and c as the push commits, whoever answers first.
    const told = [applied(b.storage, { kind: 'tag', repository: 'moving', tag: 'latest' }), applied(c.storage, { kind: 'tag', tag: 'latest' })];
    await pushManifest(viaA, 'moving', 'latest', second);
    expect(await tagDigest(a, 'moving', 'latest')).toBe(digestOf(second));
    await Promise.all(told);
    expect(await tagDigest(b, 'moving', 'latest')).toBe(digestOf(second));
    expect(await tagDigest(c, 'moving', 'latest')).toBe(digestOf(second));
    const tags = (await (await fetch(`${c.url}/v2/moving/tags/list`)).json()) as { tags: string[] };
    expect(tags.tags).toEqual(['latest']);
  });

  it('stops serving a tag or a manifest deleted through one replica from the others on their next request', async () => {
    const [a, b, c] = replicas;
    const viaA = (path: string, init?: RequestInit) => fetch(a.url + path, init);
    const config = Buffer.from('{}');
    const layer = blob(4096, 5);
    await pushChunked(viaA, 'gone', config, config.length);
    await pushChunked(viaA, 'gone', layer, layer.length);
    const image = manifest(config, [layer], 'gone');
    const pushed = [b, c].flatMap((r) => [applied(r.storage, { kind: 'tag', tag: 'v1' }), applied(r.storage, { kind: 'tag', tag: 'v2' })]);
    await pushManifest(viaA, 'gone', 'v1', image);
    await pushManifest(viaA, 'gone', 'v2', image);
    await Promise.all(pushed);
    for (const replica of [b, c]) {
      expect(await tagDigest(replica, 'gone', 'v1')).toBe(digestOf(image));
      expect(await tagDigest(replica, 'gone', 'v2')).toBe(digestOf(image));
      expect(replica.storage.cachedManifest('gone', 'v1')?.digest).toBe(digestOf(image));
      expect(replica.storage.cachedManifest('gone', 'v2')?.digest).toBe(digestOf(image));
    }

    const untagged = [applied(b.storage, { kind: 'tag', tag: 'v1' }), applied(c.storage, { kind: 'tag', tag: 'v1' })];
    await expectStatus(await viaA('/v2/gone/manifests/v1', { method: 'DELETE' }), 202);
    await Promise.all(untagged);
    for (const replica of [b, c]) {
      expect(await tagDigest(replica, 'gone', 'v1')).toBeNull();
      expect(await tagDigest(replica, 'gone', 'v2')).toBe(digestOf(image));
    }

    const deleted = [applied(b.storage, { kind: 'deleted', digest: digestOf(image) }), applied(c.storage, { kind: 'deleted' })];
    await expectStatus(await viaA(`/v2/gone/manifests/${digestOf(image)}`, { method: 'DELETE' }), 202);
    await Promise.all(deleted);
    for (const replica of [b, c]) {
      expect(await tagDigest(replica, 'gone', 'v2')).toBeNull();
      const byDigest = await fetch(`${replica.url}/v2/gone/manifests/${digestOf(image)}`, { headers: { Accept: OCI_MANIFEST } });
      expect(byDigest.status).toBe(404);
    }
  });

  it('keeps an upload whose replica dies mid-chunk, for a client that resumes through another', async () => {
    const [a, b, c] = replicas;
    const content = blob(16 * MiB + 777, 4);
    const digest = digestOf(content);
    const location = (await expectStatus(await fetch(`${a.url}/v2/crash/blobs/uploads/`, { method: 'POST' }), 202)).headers.get('location')!;
    const first = 6 * MiB;
    await expectStatus(
      await fetch(a.url + location, { method: 'PATCH', body: content.subarray(0, first), headers: { 'Content-Range': `0-${first - 1}` } }),
      202,
    );

    // The next chunk starts on a, which dies after receiving part of it.
    const second = 8 * MiB;
    const request = http.request(a.url + location, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${first}-${first + second - 1}`, 'Content-Length': String(second) },
    });
    const failed = new Promise<void>((resolve) => {
      request.on('error', () => resolve());
      request.on('response', (res) => {
        res.resume();
        resolve();
      });
    });
    await new Promise<void>((resolve) => request.write(content.subarray(first, first + 5 * MiB), () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await a.kill();
    await failed;

    // The client asks another replica where the upload stands and sends the rest from there.
    const status = await expectStatus(await fetch(b.url + location), 204);
    const landed = Number(/^0-(\d+)$/.exec(status.headers.get('range')!)![1]) + 1;
    expect(landed).toBeGreaterThanOrEqual(first);
    expect(landed).toBeLessThanOrEqual(first + 5 * MiB);
    await expectStatus(
      await fetch(b.url + location, {
        method: 'PATCH',
        body: content.subarray(landed),
        headers: { 'Content-Range': `${landed}-${content.length - 1}` },
      }),
      202,
    );
    await expectStatus(await fetch(`${c.url}${location}?digest=${digest}`, { method: 'PUT' }), 201);
    const pulled = Buffer.from(await (await expectStatus(await fetch(`${b.url}/v2/crash/blobs/${digest}`), 200)).arrayBuffer());
    expect(digestOf(pulled)).toBe(digest);
  });
});
