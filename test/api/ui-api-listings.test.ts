// The JSON API's listings for the web UI (server/routes/api.ts, api-registry.ts) on SQLite and
// PostgreSQL: registry totals; repositories sorted by each key in both orders, walked page by
// page through the next links to the same list a full sort gives; namespaces; the tag filter;
// usage with the reclaimable estimate; and the 400 answers to parameters it does not take.
import { describe, expect, it } from 'vitest';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { DATABASE_KINDS } from '../helpers/metadata-databases.js';
import { useTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { pushBlob, pushImage, pushManifest } from '../helpers/images.js';
import { blobOf, ociManifest, randomBlob } from '../helpers/content.js';
import { expectError } from '../helpers/expect-answer.js';

interface RepositoryJson {
  name: string;
  namespace: string | null;
  size: number;
  tags: number;
  manifests: number;
  lastPushed: string | null;
  lastPulled: string | null;
}

async function api(reg: TestRegistry, path: string) {
  const res = await reg.request.get(path);
  expect(res.status, `${path}: ${res.text}`).toBe(200);
  expect(res.headers['content-type']).toBe('application/json');
  return res;
}

/** Every repository, following next links from path; checks each page holds at most n. */
async function walk(reg: TestRegistry, path: string, n: number): Promise<RepositoryJson[]> {
  const out: RepositoryJson[] = [];
  let next: string | null = path;
  for (let pages = 0; next !== null; pages++) {
    expect(pages, 'pages').toBeLessThan(50);
    const res = await api(reg, next);
    const body = res.body as { repositories: RepositoryJson[]; next: string | null };
    expect(body.repositories.length).toBeLessThanOrEqual(n);
    expect(res.headers.link).toBe(body.next ? `<${body.next}>; rel="next"` : undefined);
    out.push(...body.repositories);
    next = body.next;
  }
  return out;
}

const SORT_KEYS: Record<string, (r: RepositoryJson) => number> = {
  size: (r) => r.size,
  tags: (r) => r.tags,
  pushed: (r) => (r.lastPushed ? Date.parse(r.lastPushed) : 0),
  pulled: (r) => (r.lastPulled ? Date.parse(r.lastPulled) : 0),
};

describe.each(DATABASE_KINDS)('the web UI listings on $name', (kind) => {
  const registry = useTestRegistry(filesystemDriverFactory, { database: kind.name });

  it('totals repositories, tags, manifests and bytes, stored once and per repository', async () => {
    const reg = registry();
    expect((await api(reg, '/api/v1/stats')).body).toEqual({
      repositories: 0,
      tags: 0,
      manifests: 0,
      storedBytes: 0,
      logicalBytes: 0,
      dedupRatio: 1,
      upstreams: [],
    });
    const layer = randomBlob(40_000, 5);
    const a = await pushImage(reg, 'team/app', 'v1', { layers: [layer], seed: 1 });
    await pushManifest(reg, 'team/app', 'latest', a.manifest);
    const b = await pushImage(reg, 'team/web', 'v1', { layers: [layer], seed: 2 });
    const stats = (await api(reg, '/api/v1/stats')).body;
    const stored = layer.size + a.config.size + a.manifest.size + b.config.size + b.manifest.size;
    const logical = stored + layer.size;
    expect(stats).toEqual({
      repositories: 2,
      tags: 3,
      manifests: 2,
      storedBytes: stored,
      logicalBytes: logical,
      dedupRatio: logical / stored,
      upstreams: [],
    });
  });

  it('sorts repositories by every key in both orders, the next links walking the whole sorted list', async () => {
    const reg = registry();
    const names = ['team/app', 'team/web', 'tools/lint', 'solo', 'team/api', 'a/b/c', 'zeta/x'];
    for (const [i, name] of names.entries()) {
      await pushImage(reg, name, 'v1', { seed: 10 + i, layers: [randomBlob(1000 * ((i % 3) + 1), 10 + i)] });
      // Tag counts 1..3, with ties.
      for (let t = 0; t < i % 3; t++) await pushImage(reg, name, `extra${t}`, { seed: 10 + i, layers: [randomBlob(1000 * ((i % 3) + 1), 10 + i)] });
    }
    for (const name of ['team/web', 'solo', 'zeta/x']) expect((await reg.request.get(`/v2/${name}/manifests/v1`)).status).toBe(200);
    await reg.storage.pulls!.flush();

    const all = (await api(reg, '/api/v1/repositories')).body.repositories as RepositoryJson[];
    expect(all.map((r) => r.name)).toEqual([...names].sort());
    expect(all.find((r) => r.name === 'team/web')).toMatchObject({ namespace: 'team', lastPulled: expect.any(String) });
    expect(all.find((r) => r.name === 'team/app')).toMatchObject({ namespace: 'team', lastPulled: null });
    expect(all.find((r) => r.name === 'solo')).toMatchObject({ namespace: null });
    expect(all.find((r) => r.name === 'a/b/c')).toMatchObject({ namespace: 'a' });

    for (const sort of ['name', ...Object.keys(SORT_KEYS)]) {
      for (const order of ['asc', 'desc']) {
        const key = SORT_KEYS[sort] ?? (() => 0);
        const expected = [...all]
          .sort((x, y) => {
            const byKey = key(x) - key(y) || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0);
            return order === 'desc' ? -byKey : byKey;
          })
          .map((r) => r.name);
        const walked = await walk(reg, `/api/v1/repositories?sort=${sort}&order=${order}&n=2`, 2);
        expect(
          walked.map((r) => r.name),
          `${sort} ${order}`,
        ).toEqual(expected);
      }
    }
    // By name the next page is after last=; by another key after an opaque cursor=.
    const byName = (await api(reg, '/api/v1/repositories?n=2&order=desc')).body;
    expect(byName.next).toBe('/api/v1/repositories?order=desc&n=2&last=tools%2Flint');
    const bySize = (await api(reg, '/api/v1/repositories?n=2&sort=size&namespace=team')).body;
    expect(bySize.next).toMatch(/^\/api\/v1\/repositories\?namespace=team&sort=size&n=2&cursor=[\w-]+$/);
    expect(bySize.repositories.every((r: RepositoryJson) => r.namespace === 'team')).toBe(true);
    expect((await walk(reg, '/api/v1/repositories?namespace=team&sort=pulled&order=desc&n=1', 1)).map((r) => r.name)).toEqual([
      'team/web',
      'team/app',
      'team/api',
    ]);
    expect((await walk(reg, '/api/v1/repositories?q=t&sort=tags&n=3', 3)).map((r) => r.name)).toEqual(
      all
        .filter((r) => r.name.includes('t'))
        .sort((x, y) => x.tags - y.tags || (x.name < y.name ? -1 : 1))
        .map((r) => r.name),
    );
  });

  it('answers 400 to a sort, order, cursor or namespace it does not take', async () => {
    const reg = registry();
    await pushImage(reg, 'team/app', 'v1', { seed: 1 });
    await pushImage(reg, 'team/web', 'v1', { seed: 2 });
    const cursor = new URL((await api(reg, '/api/v1/repositories?sort=size&n=1')).body.next, 'http://x').searchParams.get('cursor')!;
    expect(cursor).toBeTruthy();
    expect((await api(reg, `/api/v1/repositories?sort=size&n=1&cursor=${cursor}`)).body.repositories).toHaveLength(1);
    for (const query of [
      'sort=popularity',
      'order=up',
      'sort=size&cursor=nonsense',
      'sort=size&cursor=' + Buffer.from('["size","asc",-1,"x"]').toString('base64url'),
      'sort=size&cursor=' + Buffer.from('{"a":1}').toString('base64url'),
      `sort=tags&cursor=${cursor}`,
      `sort=size&order=desc&cursor=${cursor}`,
      `cursor=${cursor}`,
      'sort=size&last=team/app',
    ]) {
      expectError(await reg.request.get(`/api/v1/repositories?${query}`), 400, 'UNSUPPORTED');
    }
    expectError(await reg.request.get('/api/v1/repositories?namespace=team/app'), 400, 'NAME_INVALID');
    expectError(await reg.request.get('/api/v1/repositories?namespace=Team'), 400, 'NAME_INVALID');
    expectError(await reg.request.get('/api/v1/repositories?sort=size&n=x'), 400, 'PAGINATION_NUMBER_INVALID');
  });

  it('lists namespaces with their repositories and sizes, and filters tags by part of their name', async () => {
    const reg = registry();
    const app = await pushImage(reg, 'team/app', 'v1', { seed: 1 });
    for (const tag of ['v1.1', 'v2', 'latest', 'v1-rc']) await pushManifest(reg, 'team/app', tag, app.manifest);
    const web = await pushImage(reg, 'team/web/ui', 'v1', { seed: 2 });
    const lint = await pushImage(reg, 'tools/lint', 'v1', { seed: 3 });
    await pushImage(reg, 'solo', 'v1', { seed: 4 });
    const size = (i: { manifest: { size: number }; config: { size: number }; layers: Array<{ size: number }> }) =>
      i.manifest.size + i.config.size + i.layers.reduce((s, l) => s + l.size, 0);
    expect((await api(reg, '/api/v1/namespaces')).body).toEqual({
      namespaces: [
        { name: 'team', repositories: 2, size: size(app) + size(web) },
        { name: 'tools', repositories: 1, size: size(lint) },
      ],
    });

    const tags = (path: string) => api(reg, path).then((res) => res.body as { tags: Array<{ tag: string }>; next: string | null });
    expect((await tags('/api/v1/tags/team/app?q=v1')).tags.map((t) => t.tag)).toEqual(['v1', 'v1-rc', 'v1.1']);
    const first = await tags('/api/v1/tags/team/app?q=v1&n=2');
    expect(first.next).toBe('/api/v1/tags/team/app?q=v1&n=2&last=v1-rc');
    expect(await tags(first.next!)).toMatchObject({ tags: [{ tag: 'v1.1' }], next: null });
    expect((await tags('/api/v1/tags/team/app?q=nothing')).tags).toEqual([]);
  });

  it('shows usage: the largest namespaces and repositories, and what a collection of untagged manifests would free', async () => {
    const reg = registry();
    const big = await pushImage(reg, 'team/big', 'v1', { seed: 1, layers: [randomBlob(30_000, 1)] });
    const small = await pushImage(reg, 'team/small', 'v1', { seed: 2, layers: [randomBlob(3_000, 2)] });
    const other = await pushImage(reg, 'other/mid', 'v1', { seed: 3, layers: [randomBlob(10_000, 3)] });
    // An untagged image in team/small: its own layer and config go with it, the shared layer stays.
    const own = randomBlob(5_000, 4);
    const config = blobOf('{"os":"linux","architecture":"amd64","untagged":true}');
    const untagged = ociManifest(config, [own, small.layers[0]]);
    for (const blob of [own, config]) await pushBlob(reg, 'team/small', blob);
    await pushManifest(reg, 'team/small', untagged.digest, untagged);

    const usage = (await api(reg, '/api/v1/usage')).body;
    const sizeOf = (i: { manifest: { size: number }; config: { size: number }; layers: Array<{ size: number }> }) =>
      i.manifest.size + i.config.size + i.layers.reduce((s, l) => s + l.size, 0);
    const smallSize = sizeOf(small) + untagged.size + own.size + config.size;
    expect(usage).toEqual({
      storedBytes: sizeOf(big) + smallSize + sizeOf(other),
      logicalBytes: sizeOf(big) + smallSize + sizeOf(other),
      namespaces: [
        { name: 'team', repositories: 2, size: sizeOf(big) + smallSize },
        { name: 'other', repositories: 1, size: sizeOf(other) },
      ],
      repositories: [
        { name: 'team/big', size: sizeOf(big), tags: 1, manifests: 1 },
        { name: 'team/small', size: smallSize, tags: 1, manifests: 2 },
        { name: 'other/mid', size: sizeOf(other), tags: 1, manifests: 1 },
      ].sort((a, b) => b.size - a.size),
      reclaimable: {
        untaggedManifests: 1,
        untaggedBytes: untagged.size,
        unreferencedBlobs: 2,
        unreferencedBytes: own.size + config.size,
        estimated: true,
        deleteUntagged: false,
      },
    });
  });
});
