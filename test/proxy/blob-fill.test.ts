// Blobs through the pull-through proxy: concurrent cold pulls share one upstream GET, every
// client gets bytes while they arrive, and what is committed is served from cache afterwards.
import { afterEach, describe, expect, it } from 'vitest';
import * as fsp from 'node:fs/promises';
import { BlobFill } from '../../proxy/blob-fill.js';
import { randomBlob } from '../helpers/content.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { listen, type Listening } from '../helpers/http-server.js';
import { pushImage } from '../helpers/images.js';
import { pull } from '../helpers/registry-client.js';
import { tempDir } from '../helpers/temp-dir.js';
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

describe('blobs through the proxy', () => {
  it('answers 16 concurrent pulls of an uncached blob with one upstream GET, all bytes correct', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    const layer = randomBlob(3 * 1024 * 1024 + 17, 11);
    await pushImage(upstream.storage, 'team/app', 'v1', { layers: [layer] });
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: upstream.url } }, cacheTtl: '1ms' });
    const url = `${proxy.url}/v2/team/app/blobs/${layer.digest}`;

    const answers = await Promise.all(Array.from({ length: 16 }, () => pull(url)));
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-length')).toBe(String(layer.size));
      expect(answer.body.equals(layer.bytes)).toBe(true);
    }
    expect(upstream.count('GET', new RegExp(`/blobs/${layer.digest}$`))).toBe(1);

    // Committed and linked: the next pull is a cache hit with no upstream call.
    await proxy.proxy.fills.idle();
    const before = upstream.requests.length;
    const again = await pull(url);
    expect(again.body.equals(layer.bytes)).toBe(true);
    expect(upstream.requests.length).toBe(before);
    expect(await proxy.storage.blobs.has('team/app', layer.digest)).toBe(true);
  });

  it('streams bytes to every waiting client before upstream has sent the whole blob', async () => {
    const layer = randomBlob(2 * 1024 * 1024, 5);
    const half = layer.size / 2;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let gets = 0;
    custom = await listen((req, res) => {
      gets += 1;
      res.writeHead(200, { 'Content-Length': String(layer.size), 'Docker-Content-Digest': layer.digest });
      res.write(layer.bytes.subarray(0, half));
      void released.then(() => res.end(layer.bytes.subarray(half)));
    });
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: custom.url } }, cacheTtl: '1ms' });
    const url = `${proxy.url}/v2/team/app/blobs/${layer.digest}`;

    // Three clients, each must see a good part of the first half while upstream holds the rest.
    const readers = await Promise.all(
      Array.from({ length: 3 }, async () => {
        const res = await fetch(url);
        expect(res.status).toBe(200);
        const reader = res.body!.getReader();
        const chunks: Buffer[] = [];
        let received = 0;
        while (received < half / 2) {
          const { value, done } = await reader.read();
          if (done) break;
          chunks.push(Buffer.from(value));
          received += value.length;
        }
        return { reader, chunks, received };
      }),
    );
    for (const r of readers) expect(r.received).toBeGreaterThanOrEqual(half / 2);
    release();
    for (const r of readers) {
      for (;;) {
        const { value, done } = await r.reader.read();
        if (done) break;
        r.chunks.push(Buffer.from(value));
      }
      expect(Buffer.concat(r.chunks).equals(layer.bytes)).toBe(true);
    }
    expect(gets).toBe(1);
  });

  it('answers HEAD of an uncached blob from an upstream HEAD without filling', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    const layer = randomBlob(4096, 2);
    await pushImage(upstream.storage, 'team/app', 'v1', { layers: [layer] });
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: upstream.url } }, cacheTtl: '1ms' });

    const head = await fetch(`${proxy.url}/v2/team/app/blobs/${layer.digest}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(layer.size));
    expect(head.headers.get('docker-content-digest')).toBe(layer.digest);
    expect(upstream.count('GET', /\/blobs\//)).toBe(0);
    expect(await proxy.storage.blobs.statGlobal(layer.digest)).toBeUndefined();
  });

  it('answers BLOB_UNKNOWN for a blob upstream does not have', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    await pushImage(upstream.storage, 'team/app', 'v1');
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: upstream.url } }, cacheTtl: '1ms' });
    const missing = randomBlob(10, 99);
    const res = await pull(`${proxy.url}/v2/team/app/blobs/${missing.digest}`);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body.toString()).errors[0].code).toBe('BLOB_UNKNOWN');
  });

  it('links a blob already in the content store once upstream confirms the repository has it', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    const layer = randomBlob(50_000, 8);
    await pushImage(upstream.storage, 'team/one', 'v1', { layers: [layer], seed: 1 });
    await pushImage(upstream.storage, 'team/two', 'v1', { layers: [layer], seed: 2 });
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: upstream.url } }, cacheTtl: '1ms' });

    expect((await pull(`${proxy.url}/v2/team/one/blobs/${layer.digest}`)).status).toBe(200);
    await proxy.proxy.fills.idle();
    const res = await pull(`${proxy.url}/v2/team/two/blobs/${layer.digest}`);
    expect(res.body.equals(layer.bytes)).toBe(true);
    expect(upstream.count('GET', /\/blobs\//)).toBe(1);
    expect(upstream.count('HEAD', /\/team\/two\/blobs\//)).toBe(1);
  });

  it('serves ranges of a cached blob', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    const layer = randomBlob(10_000, 4);
    await pushImage(upstream.storage, 'team/app', 'v1', { layers: [layer] });
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: upstream.url } }, cacheTtl: '1ms' });
    const url = `${proxy.url}/v2/team/app/blobs/${layer.digest}`;
    await pull(url);
    await proxy.proxy.fills.idle();
    const part = await pull(url, { headers: { Range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(part.body.equals(layer.bytes.subarray(100, 200))).toBe(true);
  });
});

describe('a spool reader', () => {
  async function readUntilQuiet(stream: NodeJS.ReadableStream, chunks: Buffer[]): Promise<void> {
    stream.on('data', (c: Buffer) => chunks.push(c));
    await new Promise((r) => setTimeout(r, 150));
  }

  it('holds back the last byte until the fill has verified the digest', async () => {
    const dir = await tempDir('stowage-spool-test-');
    try {
      const layer = randomBlob(100_000, 31);
      const fill = new BlobFill(layer.digest, dir);
      await fsp.writeFile(fill.spoolPath, layer.bytes);
      const reader = fill.createReader();
      const ended = new Promise((resolve) => reader.on('end', resolve));
      fill.started(layer.size);
      fill.progressed(layer.size);
      const chunks: Buffer[] = [];
      await readUntilQuiet(reader, chunks);
      expect(Buffer.concat(chunks).length).toBe(layer.size - 1);
      fill.verified();
      await ended;
      expect(Buffer.concat(chunks).equals(layer.bytes)).toBe(true);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('ends in an error, never in a complete body, when the fill fails at the end', async () => {
    const dir = await tempDir('stowage-spool-test-');
    try {
      const layer = randomBlob(50_000, 32);
      const fill = new BlobFill(layer.digest, dir);
      await fsp.writeFile(fill.spoolPath, layer.bytes);
      const reader = fill.createReader();
      const failed = new Promise<Error>((resolve) => reader.on('error', resolve));
      fill.started(layer.size);
      fill.progressed(layer.size);
      const chunks: Buffer[] = [];
      await readUntilQuiet(reader, chunks);
      fill.failed(new Error('digest mismatch'));
      expect((await failed).message).toBe('digest mismatch');
      expect(Buffer.concat(chunks).length).toBeLessThan(layer.size);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
