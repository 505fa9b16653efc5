// Which upstream serves which name: prefixed upstreams beside local repositories that accept
// pushes, pushes to a proxied name refused, containerd's ?ns=<host>, and Docker Hub's library/.
import { afterEach, describe, expect, it } from 'vitest';
import { configFrom } from '../../server/config.js';
import { silentLogger } from '../../server/logger.js';
import { ProxyRouter, createUpstream } from '../../proxy/routing.js';
import { upstreamSettings } from '../../server/proxy-from-config.js';
import { blobOf } from '../helpers/content.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { pushImage } from '../helpers/images.js';
import { pull } from '../helpers/registry-client.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';

let upstream: TestRegistry | undefined;
let proxy: TestRegistry | undefined;

afterEach(async () => {
  await proxy?.cleanup();
  await upstream?.cleanup();
  proxy = upstream = undefined;
});

function routerFor(raw: Record<string, unknown>): ProxyRouter {
  return new ProxyRouter(upstreamSettings(configFrom(raw)).map((s) => createUpstream(s, silentLogger())));
}

describe('proxy routing', () => {
  const router = routerFor({
    stowage: {
      proxies: [
        { prefix: 'dockerhub', remoteurl: 'https://registry-1.docker.io' },
        { prefix: 'ghcr', remoteurl: 'https://ghcr.io' },
        { prefix: 'quay', remoteurl: 'https://quay.io', hosts: ['quay.example'] },
      ],
    },
  });

  it.each([
    ['dockerhub/busybox', undefined, 'dockerhub', 'dockerhub/busybox', 'library/busybox'],
    ['dockerhub/bitnami/redis', undefined, 'dockerhub', 'dockerhub/bitnami/redis', 'bitnami/redis'],
    ['ghcr/owner/tool', undefined, 'ghcr', 'ghcr/owner/tool', 'owner/tool'],
    ['ghcr/tool', undefined, 'ghcr', 'ghcr/tool', 'tool'],
    ['library/busybox', 'docker.io', 'dockerhub', 'dockerhub/library/busybox', 'library/busybox'],
    ['owner/tool', 'ghcr.io', 'ghcr', 'ghcr/owner/tool', 'owner/tool'],
    ['org/app', 'quay.example', 'quay', 'quay/org/app', 'org/app'],
  ])('routes %s (ns=%s) to %s as %s, upstream name %s', (name, ns, prefix, local, remote) => {
    const route = router.resolve(name, ns);
    expect(route?.upstream.prefix).toBe(prefix);
    expect(route?.name).toBe(local);
    expect(route?.remoteName).toBe(remote);
  });

  it('leaves names outside every prefix local, and an unknown ns changes nothing', () => {
    expect(router.resolve('team/app')).toBeUndefined();
    expect(router.resolve('dockerhubx/app')).toBeUndefined();
    expect(router.resolve('team/app', 'registry.unknown')).toBeUndefined();
  });

  it('makes every name a cache of the upstream in Distribution form', () => {
    const whole = routerFor({ proxy: { remoteurl: 'https://registry-1.docker.io' } });
    expect(whole.resolve('busybox')).toMatchObject({ name: 'busybox', remoteName: 'library/busybox' });
    expect(whole.resolve('library/busybox', 'docker.io')).toMatchObject({ name: 'library/busybox', remoteName: 'library/busybox' });
  });

  it('refuses two upstreams with one prefix', () => {
    expect(() =>
      routerFor({
        stowage: {
          proxies: [
            { prefix: 'a', remoteurl: 'http://127.0.0.1:1' },
            { prefix: 'a', remoteurl: 'http://127.0.0.1:2' },
          ],
        },
      }),
    ).toThrow(/share the prefix/);
  });

  it('refuses a prefix that is not one name component', () => {
    expect(() => configFrom({ stowage: { proxies: [{ prefix: 'a/b', remoteurl: 'http://127.0.0.1:1' }] } })).toThrow(/prefix/);
  });
});

describe('proxied and local repositories in one registry', () => {
  it('serves a prefixed upstream and accepts pushes to local names', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    const image = await pushImage(upstream.storage, 'team/app', 'v1');
    proxy = await startTestRegistry(filesystemDriverFactory, {
      config: { stowage: { proxies: [{ prefix: 'up', remoteurl: upstream.url }] } },
      cacheTtl: '1ms',
    });

    const proxied = await pull(`${proxy.url}/v2/up/team/app/manifests/v1`);
    expect(proxied.status).toBe(200);
    expect(proxied.body.equals(image.manifest.bytes)).toBe(true);
    expect(upstream.count('GET', /^\/v2\/team\/app\/manifests\/v1$/)).toBe(1);

    // A local repository next to it takes a monolithic blob push.
    const blob = blobOf('local bytes');
    const push = await fetch(`${proxy.url}/v2/mine/app/blobs/uploads/?digest=${blob.digest}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: blob.bytes,
    });
    expect(push.status).toBe(201);
    // Local names never reach upstream.
    expect((await pull(`${proxy.url}/v2/mine/app/manifests/v1`)).status).toBe(404);
    expect(upstream.count('GET', /mine/)).toBe(0);

    const catalog = JSON.parse((await pull(`${proxy.url}/v2/_catalog`)).body.toString());
    expect(catalog.repositories).toEqual(['mine/app', 'up/team/app']);
  });

  it.each([
    ['POST', '/v2/up/team/app/blobs/uploads/'],
    ['PUT', '/v2/up/team/app/manifests/v2'],
    ['DELETE', '/v2/up/team/app/manifests/v1'],
    ['DELETE', `/v2/up/team/app/blobs/${blobOf('x').digest}`],
  ])('refuses %s %s on a proxied name with UNSUPPORTED', async (method, path) => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    await pushImage(upstream.storage, 'team/app', 'v1');
    proxy = await startTestRegistry(filesystemDriverFactory, {
      config: { stowage: { proxies: [{ prefix: 'up', remoteurl: upstream.url }] } },
      cacheTtl: '1ms',
    });
    await pull(`${proxy.url}/v2/up/team/app/manifests/v1`);
    const res = await fetch(`${proxy.url}${path}`, {
      method,
      headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
      body: method === 'PUT' ? '{}' : undefined,
    });
    expect(res.status).toBe(405);
    expect((await res.json()).errors[0].code).toBe('UNSUPPORTED');
    // Still cached, nothing pushed upstream.
    expect((await pull(`${proxy.url}/v2/up/team/app/manifests/v1`)).status).toBe(200);
    expect(upstream.requests.every((r) => r.method === 'GET' || r.method === 'HEAD')).toBe(true);
  });

  it('routes ?ns=<host> to the upstream of that host, stored under its prefix', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    const image = await pushImage(upstream.storage, 'library/alpine', '3');
    proxy = await startTestRegistry(filesystemDriverFactory, {
      config: { stowage: { proxies: [{ prefix: 'mirror', remoteurl: upstream.url, hosts: ['registry.example'] }] } },
      cacheTtl: '1ms',
    });

    const byHost = await pull(`${proxy.url}/v2/library/alpine/manifests/3?ns=registry.example`);
    expect(byHost.status).toBe(200);
    expect(byHost.body.equals(image.manifest.bytes)).toBe(true);
    // The spec's registry-proxying section: the ns that scoped the request comes back.
    expect(byHost.headers.get('oci-namespace')).toBe('registry.example');
    const tags = await fetch(`${proxy.url}/v2/library/alpine/tags/list?ns=registry.example`);
    expect(tags.headers.get('oci-namespace')).toBe('registry.example');
    expect(await tags.json()).toEqual({ name: 'library/alpine', tags: ['3'] });
    // An ns no upstream serves scopes nothing, and is not echoed.
    const unscoped = await fetch(`${proxy.url}/v2/library/alpine/manifests/3?ns=elsewhere.example`);
    expect(unscoped.status).toBe(404);
    expect(unscoped.headers.get('oci-namespace')).toBeNull();
    const byUpstreamHost = await pull(`${proxy.url}/v2/library/alpine/manifests/3?ns=${upstream.host}`);
    expect(byUpstreamHost.status).toBe(200);
    // Both landed in the prefixed repository, fetched once.
    expect(upstream.count('GET', /\/manifests\/3$/)).toBe(1);
    expect(await proxy.storage.manifests.listTags('mirror/library/alpine')).toEqual(['3']);
    // Without ns the plain name is a local repository, unknown here.
    expect((await pull(`${proxy.url}/v2/library/alpine/manifests/3`)).status).toBe(404);
  });

  it('maps a Docker Hub one-part name to library/', async () => {
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms' });
    const image = await pushImage(upstream.storage, 'library/busybox', 'latest');
    proxy = await startTestRegistry(filesystemDriverFactory, {
      config: { stowage: { proxies: [{ prefix: 'hub', remoteurl: upstream.url, dockerhub: true }] } },
      cacheTtl: '1ms',
    });
    const res = await pull(`${proxy.url}/v2/hub/busybox/manifests/latest`);
    expect(res.status).toBe(200);
    expect(res.body.equals(image.manifest.bytes)).toBe(true);
    expect(upstream.count('GET', /^\/v2\/library\/busybox\/manifests\/latest$/)).toBe(1);
    const blob = await pull(`${proxy.url}/v2/hub/busybox/blobs/${image.config.digest}`);
    expect(blob.body.equals(image.config.bytes)).toBe(true);
  });
});
