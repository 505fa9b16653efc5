// Quotas (storage/quotas.ts) on both metadata databases: what counts (blobs deduplicated within a
// quota, a repository counting in each quota covering it, an index adding nothing of its own), a
// refused push leaving nothing linked or counted, re-pushes, deletes and GC giving space back,
// upload starts, and two pushes racing for the last bytes in one process.
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Quotas, type QuotaHooks, type QuotaRule } from '../../storage/quotas.js';
import { literalPrefix } from '../../storage/metadata/quota-queries.js';
import { KeyedLock } from '../../storage/keyed-lock.js';
import { ImmutableTags } from '../../storage/immutable-tags.js';
import { RegistryStorage } from '../../storage/registry.js';
import { FilesystemDriver } from '../../storage/drivers/fs/fs-driver.js';
import { MetadataStore } from '../../storage/metadata/metadata-store.js';
import { RegistryError } from '../../errors/registry-error.js';
import { collectGarbage } from '../../storage/jobs/gc.js';
import { parseByteSize } from '../../server/byte-size.js';
import { ConfigError, configFrom } from '../../server/config.js';
import { DATABASE_KINDS, openTestDatabase } from '../helpers/metadata-databases.js';
import { tempDir } from '../helpers/temp-dir.js';
import { buildImage, pushBlob, type Image } from '../helpers/images.js';
import { ociIndex, randomBlob } from '../helpers/content.js';

describe('quota configuration', () => {
  const base = { version: '0.1', storage: { filesystem: { rootdirectory: '/tmp/stowage-quota-config' } } };

  it.each([
    ['10GiB', 10 * 2 ** 30],
    ['500MB', 500e6],
    ['1.5 KiB', 1536],
    ['123', 123],
    [4096, 4096],
    [0, 0],
  ])('maxbytes %j is %d bytes', (maxbytes, bytes) => {
    const config = configFrom({ ...base, stowage: { quotas: [{ repositories: ['team/**'], maxbytes }] } });
    expect(config.stowage.quotas).toEqual([{ repositories: ['team/**'], maxbytes: bytes }]);
  });

  it('is empty when the key is absent', () => {
    expect(configFrom(base).stowage.quotas).toEqual([]);
  });

  it.each([['10 parsecs'], [-1], [1.5], ['GiB'], [''], [true], ['99999999999 PiB']])('refuses maxbytes %j naming the key', (maxbytes) => {
    expect(() => configFrom({ ...base, stowage: { quotas: [{ repositories: ['team/**'], maxbytes }] } })).toThrow(ConfigError);
    expect(() => configFrom({ ...base, stowage: { quotas: [{ repositories: ['team/**'], maxbytes }] } })).toThrow(/stowage\.quotas\.0\.maxbytes/);
  });

  it('refuses a bad glob, a missing key and two quotas over the same repositories', () => {
    const bad = (quotas: unknown) => () => configFrom({ ...base, stowage: { quotas } });
    expect(bad([{ repositories: ['Team/**'], maxbytes: 1 }])).toThrow(/stowage\.quotas\.0\.repositories\.0/);
    expect(bad([{ repositories: [], maxbytes: 1 }])).toThrow(/stowage\.quotas\.0\.repositories/);
    expect(bad([{ repositories: ['a'] }])).toThrow(/stowage\.quotas\.0\.maxbytes/);
    expect(bad([{ repositories: ['a'], maxbytes: 1, extra: 1 }])).toThrow(ConfigError);
    expect(
      bad([
        { repositories: ['a'], maxbytes: 1 },
        { repositories: ['a'], maxbytes: 2 },
      ]),
    ).toThrow(/stowage\.quotas: two quotas/);
  });

  it('parses sizes as docker prints them', () => {
    expect(parseByteSize('1gb')).toBe(1e9);
    expect(parseByteSize(' 2 TiB ')).toBe(2 * 2 ** 40);
    expect(() => parseByteSize('1.5')).not.toThrow();
    expect(() => parseByteSize('1e9')).toThrow();
  });

  it.each([
    ['team/**', 'team'],
    ['team/*/app', 'team'],
    ['**', ''],
    ['solo', 'solo'],
    ['a/b?', 'a/b'],
  ])('reads repositories for %s from the name range %j', (glob, prefix) => {
    expect(literalPrefix(glob)).toBe(prefix);
  });
});

/** Bytes of an image's blobs (what a quota counts: not the manifest itself). */
function blobBytes(image: Image): number {
  return image.config.size + image.layers.reduce((sum, l) => sum + l.size, 0);
}

async function codeOf(promise: Promise<unknown>): Promise<{ code?: string; error?: RegistryError }> {
  try {
    await promise;
    return {};
  } catch (err) {
    if (err instanceof RegistryError) return { code: err.code, error: err };
    throw err;
  }
}

/** A lock that says when a run has to wait its turn behind another. */
class WatchedLock extends KeyedLock {
  queued?: () => void;
  override run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const running = super.run(key, fn);
    this.queued?.();
    return running;
  }
}

describe.each(DATABASE_KINDS)('quotas ($name)', (kind) => {
  let dir: string;
  let metadata: MetadataStore;
  let drop: () => Promise<void>;
  let storage: RegistryStorage;
  let quotas: Quotas;
  let lock: WatchedLock;
  let hooks: QuotaHooks;

  beforeEach(async () => {
    dir = await tempDir('stowage-quotas-');
    const opened = await openTestDatabase(kind);
    metadata = new MetadataStore(opened.database);
    drop = opened.drop;
  });

  afterEach(async () => {
    await storage?.close();
    await drop();
    await rm(dir, { recursive: true, force: true });
  });

  async function open(rules: QuotaRule[]): Promise<void> {
    lock = new WatchedLock();
    hooks = {};
    quotas = new Quotas(rules, metadata, lock, hooks);
    storage = new RegistryStorage(new FilesystemDriver(dir, { fsync: false }), undefined, metadata, 'stowage', new ImmutableTags(), quotas);
    await storage.open();
  }

  async function pushBlobs(name: string, image: Image): Promise<void> {
    for (const blob of [image.config, ...image.layers]) await pushBlob(storage, name, blob);
  }

  async function push(name: string, tag: string, image: Image): Promise<void> {
    await pushBlobs(name, image);
    await storage.manifests.put(name, tag, image.manifest.bytes, image.manifest.mediaType);
  }

  async function used(): Promise<number[]> {
    return (await quotas.usage()).map((q) => q.usedBytes);
  }

  it('counts a blob shared by repositories of one quota once, in each quota covering them, and nothing outside', async () => {
    await open([
      { repositories: ['team/**'], maxbytes: 1e9 },
      { repositories: ['team/a', 'solo'], maxbytes: 1e9 },
    ]);
    const shared = randomBlob(3000, 7);
    const a = buildImage({ seed: 1, layers: [shared] });
    const b = buildImage({ seed: 2, layers: [shared, randomBlob(500, 8)] });
    await push('team/a', 'v1', a);
    await push('team/b', 'v1', b);
    await push('other', 'v1', buildImage({ seed: 3 }));
    // The same image twice in one repository counts once too.
    await storage.manifests.put('team/a', 'v2', a.manifest.bytes, a.manifest.mediaType);
    const report = await quotas.usage();
    expect(report.map((q) => q.usedBytes)).toEqual([a.config.size + b.config.size + 3000 + 500, blobBytes(a)]);
    expect(report[0]).toMatchObject({
      number: 1,
      repositories: ['team/**'],
      maxBytes: 1e9,
      repositoryCount: 2,
      repositoryNames: ['team/a', 'team/b'],
    });
    expect(report[1].repositoryNames).toEqual(['team/a']);
  });

  it('refuses a push that would go over, before anything is linked or counted', async () => {
    const first = buildImage({ seed: 1 });
    const second = buildImage({ seed: 2 });
    await open([{ repositories: ['team/**'], maxbytes: blobBytes(first) + blobBytes(second) - 1 }]);
    await push('team/a', 'v1', first);
    const before = await used();
    await pushBlobs('team/b', second);
    const { code, error } = await codeOf(storage.manifests.put('team/b', 'v1', second.manifest.bytes, second.manifest.mediaType));
    expect(code).toBe('DENIED');
    expect(error?.message).toMatch(new RegExp(`${blobBytes(first)} of ${blobBytes(first) + blobBytes(second) - 1} bytes`));
    expect(error?.message).toContain('team/**');
    expect(error?.detail).toMatchObject({
      repository: 'team/b',
      quota: { number: 1, repositories: ['team/**'] },
      usedBytes: blobBytes(first),
      allowedBytes: blobBytes(first) + blobBytes(second) - 1,
      newBytes: blobBytes(second),
    });
    // Nothing of it: no tag, no revision, no row, no bytes counted.
    expect(await storage.manifests.listTags('team/b')).toEqual([]);
    expect(await storage.manifests.storedTags('team/b')).toEqual([]);
    expect(await storage.manifests.storedRevision('team/b', second.manifest.digest)).toBeUndefined();
    expect((await codeOf(storage.manifests.get('team/b', second.manifest.digest))).code).toBe('MANIFEST_UNKNOWN');
    expect(await metadata.hasManifest('team/b', second.manifest.digest)).toBe(false);
    expect(await used()).toEqual(before);
    // By digest too.
    expect((await codeOf(storage.manifests.put('team/b', second.manifest.digest, second.manifest.bytes, second.manifest.mediaType))).code).toBe(
      'DENIED',
    );
    expect(await storage.manifests.storedRevision('team/b', second.manifest.digest)).toBeUndefined();
  });

  it('lets a push of blobs the quota counts already through, even at its limit: re-push, retag, other repository', async () => {
    const image = buildImage({ seed: 1 });
    await open([{ repositories: ['team/**'], maxbytes: blobBytes(image) }]);
    await push('team/a', 'v1', image);
    expect(await used()).toEqual([blobBytes(image)]);
    await storage.manifests.put('team/a', 'v1', image.manifest.bytes, image.manifest.mediaType);
    await storage.manifests.put('team/a', 'v2', image.manifest.bytes, image.manifest.mediaType);
    // Mounted into another covered repository: counted at the manifest, where it adds nothing.
    for (const blob of [image.config, ...image.layers]) expect(await storage.blobs.mount('team/b', 'team/a', blob.digest)).toBeDefined();
    await storage.manifests.put('team/b', 'v1', image.manifest.bytes, image.manifest.mediaType);
    expect(await used()).toEqual([blobBytes(image)]);
    expect(await storage.manifests.listTags('team/b')).toEqual(['v1']);
  });

  it('counts an index by its own blobs: children pushed before it are counted already', async () => {
    const amd = buildImage({ seed: 1 });
    const arm = buildImage({ seed: 2 });
    await open([{ repositories: ['team/**'], maxbytes: blobBytes(amd) + blobBytes(arm) }]);
    await push('team/a', amd.manifest.digest, amd);
    await push('team/a', arm.manifest.digest, arm);
    expect(await used()).toEqual([blobBytes(amd) + blobBytes(arm)]);
    const index = ociIndex([amd.manifest, arm.manifest]);
    await storage.manifests.put('team/a', 'multi', index.bytes, index.mediaType);
    expect(await storage.manifests.listTags('team/a')).toEqual(['multi']);
    expect(await used()).toEqual([blobBytes(amd) + blobBytes(arm)]);
  });

  it('gives space back when a manifest is deleted, and after GC of an untagged one', async () => {
    const first = buildImage({ seed: 1 });
    const second = buildImage({ seed: 2 });
    await open([{ repositories: ['team/**'], maxbytes: Math.max(blobBytes(first), blobBytes(second)) }]);
    await push('team/a', 'v1', first);
    await pushBlobs('team/a', second);
    expect((await codeOf(storage.manifests.put('team/a', 'v2', second.manifest.bytes, second.manifest.mediaType))).code).toBe('DENIED');
    await storage.manifests.delete('team/a', first.manifest.digest);
    expect(await used()).toEqual([0]);
    await storage.manifests.put('team/a', 'v2', second.manifest.bytes, second.manifest.mediaType);
    expect(await used()).toEqual([blobBytes(second)]);
    // Untagged, then collected: its bytes count until GC deletes the manifest.
    await storage.manifests.delete('team/a', 'v2');
    expect(await used()).toEqual([blobBytes(second)]);
    await collectGarbage(storage, { deleteUntagged: true, gracePeriodMs: 0 });
    expect(await used()).toEqual([0]);
    await push('team/a', 'v1', first);
  });

  it('refuses an upload start once the quota is full, and not before', async () => {
    const image = buildImage({ seed: 1 });
    await open([{ repositories: ['team/**'], maxbytes: blobBytes(image) }]);
    const repository = storage.repository('team/a');
    await repository.uploads.cancel((await repository.uploads.start()).id);
    await push('team/a', 'v1', image);
    const { code, error } = await codeOf(storage.repository('team/b').uploads.start());
    expect(code).toBe('DENIED');
    expect(error?.detail).toMatchObject({ usedBytes: blobBytes(image), allowedBytes: blobBytes(image) });
    const blob = randomBlob(100, 99);
    expect((await codeOf(repository.uploads.putMonolithic(blob.digest, Readable.from([blob.bytes])))).code).toBe('DENIED');
    // A repository no quota covers, and the pull-through cache's fills, are never refused.
    await storage.repository('other').uploads.start();
    const cached = buildImage({ seed: 5 });
    await pushBlobs('team/cache', cached);
    await storage.manifests.put('team/cache', cached.manifest.digest, cached.manifest.bytes, cached.manifest.mediaType, {
      checkReferences: false,
      cache: true,
    });
  });

  it('lets only one of two pushes that fit alone but not together through, whichever waits (20 rounds)', async () => {
    await open([{ repositories: ['team/**'], maxbytes: 3000 }]);
    for (let round = 0; round < 20; round++) {
      const first = buildImage({ seed: 100 + 2 * round, layers: [randomBlob(2000, 100 + 2 * round)] });
      const second = buildImage({ seed: 101 + 2 * round, layers: [randomBlob(2000, 101 + 2 * round)] });
      await pushBlobs('team/first', first);
      await pushBlobs('team/second', second);
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let firstChecked!: () => void;
      const firstAtLink = new Promise<void>((resolve) => (firstChecked = resolve));
      let secondPassed = false;
      let secondChecked!: () => void;
      const secondAtLink = new Promise<void>((resolve) => (secondChecked = resolve));
      hooks.checked = async (name) => {
        if (name === 'team/first') {
          firstChecked();
          await held;
        } else {
          secondPassed = true;
          secondChecked();
        }
      };
      // The first push has checked (it fits) and stops before linking anything.
      const firstPush = codeOf(storage.manifests.put('team/first', 'v1', first.manifest.bytes, first.manifest.mediaType));
      await firstAtLink;
      // The second either queues behind the first's lock, or (were there none) passes its check now.
      let queued!: () => void;
      const secondQueued = new Promise<void>((resolve) => (queued = resolve));
      lock.queued = queued;
      const secondPush = codeOf(storage.manifests.put('team/second', 'v1', second.manifest.bytes, second.manifest.mediaType));
      await Promise.race([secondQueued, secondAtLink]);
      lock.queued = undefined;
      expect(secondPassed, `round ${round}: the second push passed its check while the first was unlinked`).toBe(false);
      release();
      expect((await firstPush).code).toBeUndefined();
      expect((await secondPush).code).toBe('DENIED');
      expect(await storage.manifests.listTags('team/second')).toEqual([]);
      expect(await used()).toEqual([blobBytes(first)]);
      hooks.checked = undefined;
      await storage.manifests.delete('team/first', first.manifest.digest);
    }
  });
});
