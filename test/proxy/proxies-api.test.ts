// The JSON API's pull-through upstreams (server/routes/api-proxies.ts) on SQLite and PostgreSQL:
// each upstream's state, its hits, misses, errors and bytes fetched since start, the repositories
// it has cached (a prefixed upstream's names, and for Distribution's whole-registry proxy every
// name no prefix takes), and that nothing may be pushed or deleted in a cache.
import { afterEach, describe, expect, it } from 'vitest';
import { ACCEPT_ALL, randomBlob } from '../helpers/content.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { expectError } from '../helpers/expect-answer.js';
import { pushImage } from '../helpers/images.js';
import { DATABASE_KINDS } from '../helpers/metadata-databases.js';
import { pull } from '../helpers/registry-client.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';

let running: TestRegistry[] = [];

afterEach(async () => {
  for (const reg of running.reverse()) await reg.cleanup();
  running = [];
});

async function start(...args: Parameters<typeof startTestRegistry>): Promise<TestRegistry> {
  const reg = await startTestRegistry(...args);
  running.push(reg);
  return reg;
}

describe.each(DATABASE_KINDS)('the proxies API on $name', (kind) => {
  it('shows each upstream online or offline with its counters and cached repositories', async () => {
    const upstream = await start(filesystemDriverFactory, { cacheTtl: '1ms' });
    const layer = randomBlob(50_000, 3);
    const image = await pushImage(upstream.storage, 'team/app', 'v1', { layers: [layer] });
    const broken = await start(filesystemDriverFactory, { cacheTtl: '1ms' });
    broken.failWith = 500;
    const proxy = await start(filesystemDriverFactory, {
      database: kind.name,
      cacheTtl: '1ms',
      config: {
        stowage: {
          proxies: [
            { prefix: 'hub', remoteurl: upstream.url },
            { prefix: 'down', remoteurl: broken.url },
          ],
        },
      },
    });
    await pushImage(proxy, 'local/app', 'v1', { seed: 5 });

    const manifest = `${proxy.url}/v2/hub/team/app/manifests/v1`;
    const blob = `${proxy.url}/v2/hub/team/app/blobs/${layer.digest}`;
    expect((await pull(manifest, { headers: { Accept: ACCEPT_ALL } })).status).toBe(200);
    expect((await pull(blob)).status).toBe(200);
    await proxy.proxy.fills.idle();
    expect((await pull(manifest, { headers: { Accept: ACCEPT_ALL } })).status).toBe(200);
    expect((await pull(blob)).status).toBe(200);
    // Three failures in a row: the upstream counts as offline.
    for (let i = 0; i < 3; i++) expect((await pull(`${proxy.url}/v2/down/x/manifests/v1`)).status).toBe(503);

    const res = await proxy.request.get('/api/v1/proxies');
    expect(res.status).toBe(200);
    expect(res.body.upstreams).toEqual([
      {
        prefix: 'hub',
        remoteurl: upstream.url,
        online: true,
        hits: 2,
        misses: 2,
        errors: 0,
        bytesFetched: layer.size + image.manifest.size,
        repositories: 1,
        lookups: { hit: 2, miss: 2, revalidated: 0, stale: 0, joined: 0, error: 0 },
      },
      {
        prefix: 'down',
        remoteurl: broken.url,
        online: false,
        hits: 0,
        misses: 0,
        errors: 3,
        bytesFetched: 0,
        repositories: 0,
        lookups: { hit: 0, miss: 0, revalidated: 0, stale: 0, joined: 0, error: 0 },
      },
    ]);
    expect((await proxy.request.get('/api/v1/stats')).body.upstreams).toEqual([
      { prefix: 'hub', remoteurl: upstream.url, online: true },
      { prefix: 'down', remoteurl: broken.url, online: false },
    ]);
    expect((await proxy.request.get('/metrics')).text).toContain(`stowage_proxy_upstream_errors_total{upstream="${new URL(broken.url).host}"} 3`);

    const cached = await proxy.request.get('/api/v1/proxies/0/repositories');
    expect(cached.body).toMatchObject({ repositories: [{ name: 'hub/team/app', namespace: 'hub', tags: 1, manifests: 1 }], next: null });
    expect((await proxy.request.get('/api/v1/proxies/1/repositories')).body).toEqual({ repositories: [], next: null });
    expectError(await proxy.request.get('/api/v1/proxies/2/repositories'), 404, 'NAME_UNKNOWN');
    expectError(await proxy.request.get('/api/v1/proxies/first/repositories'), 400, 'UNSUPPORTED');
    // A cache takes no pushes or deletes; a local repository beside it does.
    expect((await proxy.request.get('/api/v1/repositories/hub/team/app')).body.actions).toEqual({ pull: true, push: false, delete: false });
    expect((await proxy.request.get('/api/v1/repositories/local/app')).body.actions).toEqual({ pull: true, push: true, delete: true });
  });

  it("pages the whole-registry proxy's names apart from a prefixed upstream's", async () => {
    const upstream = await start(filesystemDriverFactory, { cacheTtl: '1ms' });
    for (const name of ['team/app', 'team/web', 'tools/lint']) await pushImage(upstream.storage, name, 'v1', { seed: name.length });
    const proxy = await start(filesystemDriverFactory, {
      database: kind.name,
      cacheTtl: '1ms',
      config: { proxy: { remoteurl: upstream.url }, stowage: { proxies: [{ prefix: 'mirror', remoteurl: upstream.url }] } },
    });
    for (const name of ['team/app', 'team/web', 'tools/lint', 'mirror/team/app']) {
      expect((await pull(`${proxy.url}/v2/${name}/manifests/v1`, { headers: { Accept: ACCEPT_ALL } })).status).toBe(200);
    }
    const upstreams = (await proxy.request.get('/api/v1/proxies')).body.upstreams;
    expect(upstreams.map((u: { prefix: string; repositories: number }) => [u.prefix, u.repositories])).toEqual([
      ['', 3],
      ['mirror', 1],
    ]);
    const first = (await proxy.request.get('/api/v1/proxies/0/repositories?n=2')).body;
    expect(first.repositories.map((r: { name: string }) => r.name)).toEqual(['team/app', 'team/web']);
    expect(first.next).toBe('/api/v1/proxies/0/repositories?n=2&last=team%2Fweb');
    expect((await proxy.request.get(first.next)).body).toMatchObject({ repositories: [{ name: 'tools/lint' }], next: null });
    expect((await proxy.request.get('/api/v1/proxies/1/repositories')).body.repositories.map((r: { name: string }) => r.name)).toEqual([
      'mirror/team/app',
    ]);
  });
});
