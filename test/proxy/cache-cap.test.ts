// The cache cap (stowage.proxycache.maxbytes): past it the least recently pulled cached images are
// evicted, local repositories and the blobs they hold are never touched, and an evicted image
// pulls again from upstream.
import { afterEach, describe, expect, it } from 'vitest';
import { randomBlob } from '../helpers/content.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { pushImage, type PushedImage as Image } from '../helpers/images.js';
import { pull } from '../helpers/registry-client.js';
import { TestClock } from '../helpers/test-clock.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';

let upstream: TestRegistry | undefined;
let proxy: TestRegistry | undefined;

afterEach(async () => {
  await proxy?.cleanup();
  await upstream?.cleanup();
  proxy = upstream = undefined;
});

async function pullImage(server: TestRegistry, name: string, image: Image): Promise<void> {
  expect((await pull(`${server.url}/v2/${name}/manifests/${image.tag}`)).status).toBe(200);
  for (const blob of [image.config, ...image.layers]) {
    const res = await pull(`${server.url}/v2/${name}/blobs/${blob.digest}`);
    expect(res.body.equals(blob.bytes)).toBe(true);
  }
  await server.proxy.fills.idle();
  await server.proxy.cap?.idle();
}

describe('the proxy cache cap', () => {
  it('evicts the least recently pulled image once the cache is over its cap', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    const a = await pushImage(upstream.storage, 'team/a', 'v1', { layers: [randomBlob(200_000, 1)], seed: 1 });
    const b = await pushImage(upstream.storage, 'team/b', 'v1', { layers: [randomBlob(200_000, 2)], seed: 2 });
    const c = await pushImage(upstream.storage, 'team/c', 'v1', { layers: [randomBlob(200_000, 3)], seed: 3 });
    const clock = new TestClock();
    proxy = await startTestRegistry(filesystemDriverFactory, {
      config: { stowage: { proxies: [{ prefix: 'up', remoteurl: upstream.url, ttl: '1h' }], proxycache: { maxbytes: 450_000 } } },
      cacheTtl: '1ms',
      clock,
    });

    await pullImage(proxy, 'up/team/a', a);
    clock.advance(60_000);
    await pullImage(proxy, 'up/team/b', b);
    clock.advance(60_000);
    expect((await pull(`${proxy.url}/v2/up/team/a/manifests/v1`)).status).toBe(200); // a is pulled again: b is now the oldest
    clock.advance(60_000);
    await pullImage(proxy, 'up/team/c', c);

    const { storage } = proxy;
    expect(await storage.manifests.has('up/team/b', b.manifest.digest)).toBe(false);
    expect(await storage.blobs.statGlobal(b.layers[0].digest)).toBeUndefined();
    expect(await storage.manifests.listTags('up/team/b')).toEqual([]);
    for (const kept of [
      ['up/team/a', a],
      ['up/team/c', c],
    ] as const) {
      expect(await storage.manifests.has(kept[0], kept[1].manifest.digest)).toBe(true);
      expect(await storage.blobs.statGlobal(kept[1].layers[0].digest)).toBe(200_000);
    }

    // An evicted image pulls again, from upstream.
    const before = upstream.count('GET', /\/team\/b\/blobs\//);
    await pullImage(proxy, 'up/team/b', b);
    expect(upstream.count('GET', /\/team\/b\/blobs\//)).toBe(before + 2);
  });

  it('never evicts or counts what local repositories hold', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    const shared = randomBlob(200_000, 4);
    const a = await pushImage(upstream.storage, 'team/a', 'v1', { layers: [shared], seed: 1 });
    const b = await pushImage(upstream.storage, 'team/b', 'v1', { layers: [randomBlob(200_000, 5)], seed: 2 });
    const clock = new TestClock();
    proxy = await startTestRegistry(filesystemDriverFactory, {
      config: { stowage: { proxies: [{ prefix: 'up', remoteurl: upstream.url }], proxycache: { maxbytes: 100_000 } } },
      cacheTtl: '1ms',
      clock,
    });
    const local = await pushImage(proxy.storage, 'mine/app', 'v1', { layers: [shared], seed: 3 });

    await pullImage(proxy, 'up/team/a', a);
    clock.advance(60_000);
    await pullImage(proxy, 'up/team/b', b);

    const { storage } = proxy;
    // Both cached images had to go to get under 100 kB; the layer a local repository holds stays.
    expect(await storage.manifests.has('up/team/a', a.manifest.digest)).toBe(false);
    expect(await storage.manifests.has('up/team/b', b.manifest.digest)).toBe(false);
    expect(await storage.blobs.statGlobal(b.layers[0].digest)).toBeUndefined();
    expect(await storage.blobs.statGlobal(shared.digest)).toBe(shared.size);
    expect(await storage.manifests.has('mine/app', local.manifest.digest)).toBe(true);
    const res = await pull(`${proxy.url}/v2/mine/app/blobs/${shared.digest}`);
    expect(res.body.equals(shared.bytes)).toBe(true);
  });
});
