// Listing tags (end-8a/8b) and repositories (_catalog): sorted lexically, n/last pagination with
// a Link header while more entries remain (distribution-spec "Listing Tags").
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { useTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { expectAnswer, expectError } from '../helpers/expect-answer.js';
import { pushBlob, pushImage, pushManifest } from '../helpers/images.js';
import { blobOf } from '../helpers/content.js';
import type { StorageDriver } from '../../storage/drivers/driver.js';
import { ManifestStore } from '../../storage/manifests.js';
import { RegistryCache } from '../../storage/cache.js';
import { tagKey } from '../../storage/layout.js';

const TAGS = ['v2', 'latest', 'v10', '1.0', 'v1', 'V3', '_internal', 'v1.1'];
const SORTED_TAGS = [...TAGS].sort();
const REPOSITORIES = ['zeta', 'library/alpine', 'b', 'b/c', 'a-b', 'library/busybox', 'a'];
const SORTED_REPOSITORIES = [...REPOSITORIES].sort();

/** The target of a Link: <url>; rel="next" header, as a path. */
function nextPath(link: string | undefined): string | undefined {
  if (!link) return undefined;
  const m = /^<([^>]+)>;\s*rel="next"$/.exec(link);
  expect(m, `Link header ${link}`).not.toBeNull();
  const url = new URL(m![1], 'http://registry.invalid');
  return url.pathname + url.search;
}

/** Follows Link headers from path to the end, returning every page's entries. */
async function walkPages(reg: TestRegistry, path: string, key: 'tags' | 'repositories'): Promise<string[][]> {
  const pages: string[][] = [];
  let next: string | undefined = path;
  while (next) {
    const res = await reg.request.get(next);
    expectAnswer(res, 200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    pages.push(res.body[key]);
    next = nextPath(res.headers.link);
    expect(pages.length).toBeLessThan(20);
  }
  return pages;
}

async function pushTags(reg: TestRegistry): Promise<void> {
  const { manifest } = await pushImage(reg, 'library/app', TAGS[0]);
  for (const tag of TAGS.slice(1)) await pushManifest(reg, 'library/app', tag, manifest);
}

describe.each(DRIVERS)('listing tags ($name)', (factory) => {
  // The tests only read what beforeAll pushed (one adds a repository of its own).
  const registry = useTestRegistry(factory, { shared: true });

  beforeAll(async () => {
    await pushTags(registry());
  });

  it('answers with the name and every tag, sorted lexically', async () => {
    const res = await registry().request.get('/v2/library/app/tags/list');
    expectAnswer(res, 200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({ name: 'library/app', tags: SORTED_TAGS });
    expect(res.headers.link).toBeUndefined();
  });

  it('pages with n and a Link to the next page until the last', async () => {
    const first = await registry().request.get('/v2/library/app/tags/list?n=3');
    expectAnswer(first, 200);
    expect(first.body.tags).toEqual(SORTED_TAGS.slice(0, 3));
    expect(first.headers.link).toBe(`</v2/library/app/tags/list?n=3&last=${SORTED_TAGS[2]}>; rel="next"`);
    const pages = await walkPages(registry(), '/v2/library/app/tags/list?n=3', 'tags');
    expect(pages).toEqual([SORTED_TAGS.slice(0, 3), SORTED_TAGS.slice(3, 6), SORTED_TAGS.slice(6)]);
  });

  it('answers with the tags after last', async () => {
    const res = await registry().request.get(`/v2/library/app/tags/list?last=${SORTED_TAGS[4]}`);
    expectAnswer(res, 200);
    expect(res.body.tags).toEqual(SORTED_TAGS.slice(5));
    const paged = await registry().request.get(`/v2/library/app/tags/list?n=2&last=${SORTED_TAGS[1]}`);
    expect(paged.body.tags).toEqual(SORTED_TAGS.slice(2, 4));
  });

  it('answers with the tags after last even when last is not a tag', async () => {
    const res = await registry().request.get('/v2/library/app/tags/list?last=v0');
    expect(res.body.tags).toEqual(SORTED_TAGS.filter((t) => t > 'v0'));
  });

  it('gives no Link when the page holds exactly the remaining tags', async () => {
    const res = await registry().request.get(`/v2/library/app/tags/list?n=${TAGS.length}`);
    expect(res.body.tags).toEqual(SORTED_TAGS);
    expect(res.headers.link).toBeUndefined();
  });

  it('answers n=0 with an empty list', async () => {
    const res = await registry().request.get('/v2/library/app/tags/list?n=0');
    expectAnswer(res, 200);
    expect(res.body.tags).toEqual([]);
  });

  it('answers 400 PAGINATION_NUMBER_INVALID for a non-numeric n', async () => {
    expectError(await registry().request.get('/v2/library/app/tags/list?n=ten'), 400, 'PAGINATION_NUMBER_INVALID');
  });

  it('answers 404 NAME_UNKNOWN for a repository that does not exist', async () => {
    expectError(await registry().request.get('/v2/library/nothing/tags/list'), 404, 'NAME_UNKNOWN');
  });

  it('answers an empty list for a repository that holds blobs but no tags', async () => {
    await pushBlob(registry(), 'library/layers-only', blobOf('x'));
    const res = await registry().request.get('/v2/library/layers-only/tags/list');
    expectAnswer(res, 200);
    expect(res.body).toEqual({ name: 'library/layers-only', tags: [] });
  });
});

describe.each(DRIVERS)('listing tags that do not resolve ($name)', (factory) => {
  const registry = useTestRegistry(factory);

  it('leaves out a tag whose current/link is missing, everywhere tags are listed', async () => {
    const reg = registry();
    await pushImage(reg, 'library/torn', 'v1');
    // What a process killed while tagging leaves: a tag directory without its link. On disk the
    // current/ directory may be empty; on any driver a temporary file may sit beside the link.
    if (factory.name === 'filesystem') await fsp.mkdir(path.join(reg.root, tagKey('library/torn', 'v2'), 'current'), { recursive: true });
    await reg.storage.driver.putContent(`${tagKey('library/torn', 'v3')}/current/link.tmp-0123456789ab`, 'sha256:');
    expectError(await reg.request.get('/v2/library/torn/manifests/v3'), 404, 'MANIFEST_UNKNOWN');

    const res = await reg.request.get('/v2/library/torn/tags/list');
    expectAnswer(res, 200);
    expect(res.body).toEqual({ name: 'library/torn', tags: ['v1'] });
    // stowage tags, ls and GET / (JSON) read the same ManifestStore.listTags.
    expect(await reg.storage.manifests.listTags('library/torn')).toEqual(['v1']);
    const status = await reg.request.get('/').set('Accept', 'application/json');
    expect(status.body.repositories).toEqual([{ name: 'library/torn', tags: 1 }]);

    // Tagging it properly makes it a tag again, at once.
    await pushImage(reg, 'library/torn', 'v3');
    expect((await reg.request.get('/v2/library/torn/tags/list')).body.tags).toEqual(['v1', 'v3']);
  });

  it('shares one read among concurrent listings, and a tag written during it is not lost', async () => {
    // A driver whose tag-directory listing waits until released: the read is held in flight.
    const reg = registry();
    await pushImage(reg, 'library/held', 'a');
    const real = reg.storage.driver;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let lists = 0;
    const heldList = async (prefix: string) => {
      const names = await real.list(prefix);
      if (prefix.endsWith('/_manifests/tags')) {
        lists++;
        await gate;
      }
      return names;
    };
    const held = new Proxy(real, {
      get(target, prop) {
        if (prop === 'list') return heldList;
        const value = Reflect.get(target, prop) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    }) as StorageDriver;
    const manifests = new ManifestStore(held, reg.storage.blobs, new RegistryCache());
    const first = manifests.listTags('library/held');
    const second = manifests.listTags('library/held');
    await manifests.tag('library/held', 'b', await manifests.resolveTag('library/held', 'a'));
    const third = manifests.listTags('library/held');
    release();
    expect(await first).toEqual(['a']);
    expect(await second).toEqual(['a']);
    // The read begun before the tag was written is neither joined nor cached after it.
    expect(await third).toEqual(['a', 'b']);
    expect(await manifests.listTags('library/held')).toEqual(['a', 'b']);
    expect(lists).toBe(2);
  });
});

async function pushRepositories(reg: TestRegistry): Promise<void> {
  for (const [i, name] of REPOSITORIES.entries()) {
    if (i % 2 === 0) await pushImage(reg, name, 'latest', { seed: i + 1 });
    else await pushBlob(reg, name, blobOf(`only a blob in ${name}`));
  }
}

describe.each(DRIVERS)('listing repositories with _catalog ($name)', (factory) => {
  // The tests only read what beforeAll pushed.
  const registry = useTestRegistry(factory, { shared: true });

  beforeAll(async () => {
    await pushRepositories(registry());
  });

  it('answers with every repository, nested names included, sorted lexically', async () => {
    const res = await registry().request.get('/v2/_catalog');
    expectAnswer(res, 200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({ repositories: SORTED_REPOSITORIES });
    expect(res.headers.link).toBeUndefined();
  });

  it('pages with n and last and a Link to the next page', async () => {
    const first = await registry().request.get('/v2/_catalog?n=2');
    expectAnswer(first, 200);
    expect(first.body.repositories).toEqual(SORTED_REPOSITORIES.slice(0, 2));
    expect(first.headers.link).toBe(`</v2/_catalog?n=2&last=${encodeURIComponent(SORTED_REPOSITORIES[1])}>; rel="next"`);
    const pages = await walkPages(registry(), '/v2/_catalog?n=2', 'repositories');
    expect(pages.flat()).toEqual(SORTED_REPOSITORIES);
    expect(pages.map((p) => p.length)).toEqual([2, 2, 2, 1]);
  });

  it('answers with the repositories after last', async () => {
    const res = await registry().request.get('/v2/_catalog?last=b');
    expect(res.body.repositories).toEqual(SORTED_REPOSITORIES.filter((r) => r > 'b'));
  });
});

describe.each(DRIVERS)('_catalog as repositories come and go ($name)', (factory) => {
  const registry = useTestRegistry(factory);

  it('answers an empty list when nothing was pushed', async () => {
    const res = await registry().request.get('/v2/_catalog');
    expectAnswer(res, 200);
    expect(res.body).toEqual({ repositories: [] });
  });

  it('lists a repository pushed after the previous listing', async () => {
    await pushBlob(registry(), 'first', blobOf('early'));
    expect((await registry().request.get('/v2/_catalog')).body.repositories).toEqual(['first']);
    await pushBlob(registry(), 'newcomer', blobOf('late'));
    const res = await registry().request.get('/v2/_catalog');
    expect(res.body.repositories).toEqual(['first', 'newcomer']);
  });

  it('does not list a repository whose uploads never finished', async () => {
    await registry().request.post('/v2/library/abandoned/blobs/uploads/');
    const res = await registry().request.get('/v2/_catalog');
    expect(res.body.repositories).toEqual([]);
  });
});
