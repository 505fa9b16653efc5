// When upstream goes away, breaks a transfer or sends wrong bytes: what was pulled before still
// pulls (by tag and by digest), a broken or corrupt blob is never cached, and the client sees a
// failed transfer rather than a short or wrong success.
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import * as fsp from 'node:fs/promises';
import { randomBlob } from '../helpers/content.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { listen, type Listening } from '../helpers/http-server.js';
import { pushImage } from '../helpers/images.js';
import { pull } from '../helpers/registry-client.js';
import { TestClock } from '../helpers/test-clock.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';

let upstream: TestRegistry | undefined;
let custom: Listening | undefined;
let proxy: TestRegistry | undefined;

afterEach(async () => {
  await proxy?.cleanup();
  await upstream?.cleanup();
  await custom?.close();
  proxy = upstream = custom = undefined;
});

/** GETs with node's http client and reports how the body ended: complete, or cut with an error. */
function rawGet(url: string): Promise<{ status: number; length?: string; received: number; error?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let received = 0;
      res.on('data', (chunk: Buffer) => (received += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, length: res.headers['content-length'], received }));
      res.on('error', (err) => resolve({ status: res.statusCode ?? 0, length: res.headers['content-length'], received, error: err.message }));
    });
    req.on('error', reject);
  });
}

async function spoolFiles(proxyServer: TestRegistry): Promise<string[]> {
  return fsp.readdir(proxyServer.paths.spool).catch(() => []);
}

describe('upstream failures', () => {
  it('keeps serving pulled images by tag and digest after upstream is gone', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    const layer = randomBlob(200_000, 3);
    const image = await pushImage(upstream.storage, 'team/app', 'v1', { layers: [layer] });
    const clock = new TestClock();
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: upstream.url, ttl: '1m' } }, cacheTtl: '1ms', clock });
    const base = `${proxy.url}/v2/team/app`;
    expect((await pull(`${base}/manifests/v1`)).status).toBe(200);
    expect((await pull(`${base}/blobs/${layer.digest}`)).status).toBe(200);
    expect((await pull(`${base}/blobs/${image.config.digest}`)).status).toBe(200);
    await proxy.proxy.fills.idle();

    await upstream.cleanup();
    upstream = undefined;
    clock.advance(5 * 60 * 1000); // past the TTL: the tag would be revalidated, but upstream is gone

    const byTag = await pull(`${base}/manifests/v1`);
    expect(byTag.status).toBe(200);
    expect(byTag.body.equals(image.manifest.bytes)).toBe(true);
    const byDigest = await pull(`${base}/manifests/${image.manifest.digest}`);
    expect(byDigest.status).toBe(200);
    const blob = await pull(`${base}/blobs/${layer.digest}`);
    expect(blob.body.equals(layer.bytes)).toBe(true);
    const head = await fetch(`${base}/manifests/v1`, { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('answers UNAVAILABLE for something never pulled while upstream is gone', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    await pushImage(upstream.storage, 'team/app', 'v1');
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: upstream.url } }, cacheTtl: '1ms' });
    await upstream.cleanup();
    upstream = undefined;
    const res = await pull(`${proxy.url}/v2/team/app/manifests/v1`);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body.toString()).errors[0].code).toBe('UNAVAILABLE');
  });

  it('stops asking an upstream that keeps failing, and serves the cache at once', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    const image = await pushImage(upstream.storage, 'team/app', 'v1');
    const clock = new TestClock();
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: upstream.url, ttl: '1m' } }, cacheTtl: '1ms', clock });
    expect((await pull(`${proxy.url}/v2/team/app/manifests/v1`)).status).toBe(200);

    upstream.failWith = 500;
    const before = upstream.requests.length;
    for (let i = 0; i < 6; i++) {
      clock.advance(2 * 60 * 1000);
      const res = await pull(`${proxy.url}/v2/team/app/manifests/v1`);
      expect(res.status).toBe(200);
      expect(res.body.equals(image.manifest.bytes)).toBe(true);
    }
    // Three failed revalidations mark it offline; the other pulls do not reach it.
    expect(upstream.requests.length - before).toBe(3);
  });

  it('never caches a blob whose transfer upstream cuts halfway, and fails the client transfer', async () => {
    const layer = randomBlob(1024 * 1024, 9);
    let gets = 0;
    custom = await listen((req, res) => {
      gets += 1;
      res.writeHead(200, { 'Content-Length': String(layer.size), 'Docker-Content-Digest': layer.digest });
      res.write(layer.bytes.subarray(0, layer.size / 2), () => setTimeout(() => res.socket?.destroy(), 50));
    });
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: custom.url } }, cacheTtl: '1ms' });
    const url = `${proxy.url}/v2/team/app/blobs/${layer.digest}`;

    const answers = await Promise.all([rawGet(url), rawGet(url), rawGet(url)]);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.length).toBe(String(layer.size));
      expect(answer.error).toBeDefined();
      expect(answer.received).toBeLessThan(layer.size);
    }
    expect(gets).toBe(1);
    await proxy.proxy.fills.idle();
    expect(await proxy.storage.blobs.statGlobal(layer.digest)).toBeUndefined();
    expect(await proxy.storage.blobs.has('team/app', layer.digest)).toBe(false);
    await new Promise((r) => setTimeout(r, 50));
    expect(await spoolFiles(proxy)).toEqual([]);

    // Not poisoned: the next pull asks upstream again.
    await rawGet(url);
    expect(gets).toBe(2);
  });

  it('never caches a blob whose bytes do not match its digest, and fails the client transfer', async () => {
    const layer = randomBlob(300_000, 10);
    const corrupt = Buffer.from(layer.bytes);
    corrupt[corrupt.length - 1] ^= 0xff;
    custom = await listen((req, res) => {
      res.writeHead(200, { 'Content-Length': String(corrupt.length) });
      res.end(corrupt);
    });
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: custom.url } }, cacheTtl: '1ms' });
    const answer = await rawGet(`${proxy.url}/v2/team/app/blobs/${layer.digest}`);
    expect(answer.error).toBeDefined();
    expect(answer.received).toBeLessThan(layer.size);
    await proxy.proxy.fills.idle();
    expect(await proxy.storage.blobs.statGlobal(layer.digest)).toBeUndefined();
  });

  it('gives up on a fill that outlives its own deadline, with nothing cached', async () => {
    const layer = randomBlob(100_000, 12);
    custom = await listen((req, res) => {
      res.writeHead(200, { 'Content-Length': String(layer.size) });
      res.write(layer.bytes.subarray(0, 1000)); // then nothing more
    });
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: custom.url } }, cacheTtl: '1ms', fillTimeoutMs: 300 });
    const answer = await rawGet(`${proxy.url}/v2/team/app/blobs/${layer.digest}`);
    expect(answer.error).toBeDefined();
    await proxy.proxy.fills.idle();
    expect(await proxy.storage.blobs.statGlobal(layer.digest)).toBeUndefined();
  });

  it('keeps filling for the cache when the client that started the fill hangs up', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    const layer = randomBlob(2 * 1024 * 1024, 13);
    await pushImage(upstream.storage, 'team/app', 'v1', { layers: [layer] });
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: upstream.url } }, cacheTtl: '1ms' });
    const controller = new AbortController();
    const res = await fetch(`${proxy.url}/v2/team/app/blobs/${layer.digest}`, { signal: controller.signal });
    expect(res.status).toBe(200);
    controller.abort();
    await proxy.proxy.fills.idle();
    expect(await proxy.storage.blobs.has('team/app', layer.digest)).toBe(true);
  });
});
