// Manifests through the pull-through proxy: bytes and media type exactly as upstream sent them,
// stored under the stowage-side name, tags revalidated with one HEAD at most once per TTL, an
// upstream 404 remembered, and index children fetched only when a client pulls them.
import { afterEach, describe, expect, it } from 'vitest';
import { ACCEPT_ALL, dockerManifest, randomBlob } from '../helpers/content.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { pushBlob, pushImage, pushIndex } from '../helpers/images.js';
import { pull } from '../helpers/registry-client.js';
import { TestClock } from '../helpers/test-clock.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';

let upstream: TestRegistry;
let proxy: TestRegistry;

afterEach(async () => {
  await proxy?.cleanup();
  await upstream?.cleanup();
});

describe('manifests through the proxy', () => {
  it('serves a tag with the upstream bytes, digest and media type, and keeps it in the catalog', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    const image = await pushImage(upstream.storage, 'team/app', 'v1');
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: upstream.url } }, cacheTtl: '1ms' });

    const res = await pull(`${proxy.url}/v2/team/app/manifests/v1`, { headers: { Accept: ACCEPT_ALL } });
    expect(res.status).toBe(200);
    expect(res.body.equals(image.manifest.bytes)).toBe(true);
    expect(res.headers.get('docker-content-digest')).toBe(image.manifest.digest);
    expect(res.headers.get('content-type')).toBe(image.manifest.mediaType);

    const catalog = await pull(`${proxy.url}/v2/_catalog`);
    expect(JSON.parse(catalog.body.toString()).repositories).toEqual(['team/app']);
    const tags = await pull(`${proxy.url}/v2/team/app/tags/list`);
    expect(JSON.parse(tags.body.toString()).tags).toEqual(['v1']);
  });

  it('keeps a Docker media type as upstream sent it', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    const config = randomBlob(100, 3);
    const layer = randomBlob(1000, 4);
    await pushBlob(upstream.storage, 'legacy/app', config);
    await pushBlob(upstream.storage, 'legacy/app', layer);
    const manifest = dockerManifest(config, [layer]);
    await upstream.storage.manifests.put('legacy/app', 'old', manifest.bytes, manifest.mediaType);
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: upstream.url } }, cacheTtl: '1ms' });

    const res = await pull(`${proxy.url}/v2/legacy/app/manifests/old`);
    expect(res.headers.get('content-type')).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(res.headers.get('docker-content-digest')).toBe(manifest.digest);
    expect(res.body.equals(manifest.bytes)).toBe(true);
  });

  it('serves a manifest by digest from cache forever, with no upstream call', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    const image = await pushImage(upstream.storage, 'team/app', 'v1');
    const clock = new TestClock();
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: upstream.url, ttl: '1s' } }, cacheTtl: '1ms', clock });

    const url = `${proxy.url}/v2/team/app/manifests/${image.manifest.digest}`;
    expect((await pull(url)).status).toBe(200);
    expect(upstream.count('GET', /\/manifests\//)).toBe(1);
    clock.advance(365 * 24 * 3600 * 1000);
    const before = upstream.requests.length;
    const again = await pull(url);
    expect(again.status).toBe(200);
    expect(again.body.equals(image.manifest.bytes)).toBe(true);
    expect(upstream.requests.length).toBe(before);
  });

  it('makes no upstream call for a tag within its TTL, and exactly one HEAD after it', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    await pushImage(upstream.storage, 'team/app', 'v1');
    const clock = new TestClock();
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: upstream.url, ttl: '5m' } }, cacheTtl: '1ms', clock });
    const url = `${proxy.url}/v2/team/app/manifests/v1`;

    expect((await pull(url)).status).toBe(200);
    expect(upstream.requests.map((r) => r.method)).toEqual(['GET']);
    for (let i = 0; i < 5; i++) expect((await pull(url)).status).toBe(200);
    clock.advance(4 * 60 * 1000);
    expect((await pull(url)).status).toBe(200);
    expect(upstream.requests.length).toBe(1);

    clock.advance(61 * 1000);
    await Promise.all([pull(url), pull(url), pull(url)]);
    expect(upstream.count('HEAD', /\/manifests\/v1$/)).toBe(1);
    expect(upstream.requests.length).toBe(2);

    // Revalidated: fresh again for another TTL.
    expect((await pull(url)).status).toBe(200);
    expect(upstream.requests.length).toBe(2);
  });

  it('follows a tag that moved upstream after the TTL', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    await pushImage(upstream.storage, 'team/app', 'latest', { layers: [randomBlob(1000, 1)], seed: 1 });
    const clock = new TestClock();
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: upstream.url, ttl: '1m' } }, cacheTtl: '1ms', clock });
    const url = `${proxy.url}/v2/team/app/manifests/latest`;
    await pull(url);

    const moved = await pushImage(upstream.storage, 'team/app', 'latest', { layers: [randomBlob(1000, 2)], seed: 2 });
    expect((await pull(url)).headers.get('docker-content-digest')).not.toBe(moved.manifest.digest);
    clock.advance(61 * 1000);
    const res = await pull(url);
    expect(res.headers.get('docker-content-digest')).toBe(moved.manifest.digest);
    expect(res.body.equals(moved.manifest.bytes)).toBe(true);
    expect(upstream.count('HEAD', /\/manifests\/latest$/)).toBe(1);
    expect(upstream.count('GET', /\/manifests\/latest$/)).toBe(2);
  });

  it('follows a tag that moved upstream even when a stowage.immutable rule covers the cached name', async () => {
    // Immutability protects what is pushed here; a cache's tags are the upstream's to move.
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    await pushImage(upstream.storage, 'team/app', 'latest', { layers: [randomBlob(1000, 1)], seed: 1 });
    const clock = new TestClock();
    proxy = await startTestRegistry(filesystemDriverFactory, {
      config: { proxy: { remoteurl: upstream.url, ttl: '1m' }, stowage: { immutable: [{ repositories: ['**'], tags: ['*'] }] } },
      cacheTtl: '1ms',
      clock,
    });
    const url = `${proxy.url}/v2/team/app/manifests/latest`;
    await pull(url);
    const moved = await pushImage(upstream.storage, 'team/app', 'latest', { layers: [randomBlob(1000, 2)], seed: 2 });
    clock.advance(61 * 1000);
    const res = await pull(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(moved.manifest.digest);
  });

  it('remembers an upstream 404 for notfoundttl', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    await pushImage(upstream.storage, 'team/app', 'v1');
    const clock = new TestClock();
    proxy = await startTestRegistry(filesystemDriverFactory, {
      config: { stowage: { proxies: [{ prefix: 'up', remoteurl: upstream.url, notfoundttl: '30s' }] } },
      cacheTtl: '1ms',
      clock,
    });
    const url = `${proxy.url}/v2/up/team/app/manifests/nope`;

    for (let i = 0; i < 3; i++) {
      const res = await pull(url);
      expect(res.status).toBe(404);
      expect(JSON.parse(res.body.toString()).errors[0].code).toBe('MANIFEST_UNKNOWN');
    }
    expect(upstream.count('GET', /\/manifests\/nope$/)).toBe(1);
    clock.advance(31 * 1000);
    expect((await pull(url)).status).toBe(404);
    expect(upstream.count('GET', /\/manifests\/nope$/)).toBe(2);
  });

  it('fetches only the index children that clients pull', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    const amd = await pushImage(upstream.storage, 'multi/app', 'amd', { layers: [randomBlob(500, 1)], seed: 1 });
    const arm = await pushImage(upstream.storage, 'multi/app', 'arm', { layers: [randomBlob(500, 2)], seed: 2 });
    const index = await pushIndex(upstream.storage, 'multi/app', 'v1', [amd.manifest, arm.manifest]);
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: upstream.url } }, cacheTtl: '1ms' });

    const res = await pull(`${proxy.url}/v2/multi/app/manifests/v1`);
    expect(res.body.equals(index.bytes)).toBe(true);
    expect(res.headers.get('content-type')).toBe('application/vnd.oci.image.index.v1+json');
    expect((await pull(`${proxy.url}/v2/multi/app/manifests/${amd.manifest.digest}`)).status).toBe(200);

    expect(await proxy.storage.manifests.has('multi/app', index.digest)).toBe(true);
    expect(await proxy.storage.manifests.has('multi/app', amd.manifest.digest)).toBe(true);
    expect(await proxy.storage.manifests.has('multi/app', arm.manifest.digest)).toBe(false);
    expect(upstream.count('GET', new RegExp(arm.manifest.digest))).toBe(0);
  });

  it('answers HEAD for a tag from cache within the TTL', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    const image = await pushImage(upstream.storage, 'team/app', 'v1');
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: upstream.url } }, cacheTtl: '1ms' });
    await pull(`${proxy.url}/v2/team/app/manifests/v1`);

    const head = await fetch(`${proxy.url}/v2/team/app/manifests/v1`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('docker-content-digest')).toBe(image.manifest.digest);
    expect(head.headers.get('content-length')).toBe(String(image.manifest.size));
    expect(upstream.requests.length).toBe(1);
  });
});
