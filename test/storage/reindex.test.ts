// Filling the metadata database from storage (storage/metadata/import.ts, reindex.ts) and comparing
// the two (verify.ts), on SQLite and PostgreSQL: the first start over a data directory written
// without a database lists everything; `stowage reindex` rebuilds a lost database; `--verify` is
// silent on a consistent registry and names each difference after either side is damaged.
import { afterEach, describe, expect, it } from 'vitest';
import { RegistryStorage } from '../../storage/registry.js';
import { openRegistryStorageOn } from '../../storage/open.js';
import { DEFAULT_CACHE_OPTIONS } from '../../storage/cache.js';
import { MetadataDatabase } from '../../storage/metadata/database.js';
import { MetadataStore } from '../../storage/metadata/metadata-store.js';
import { IMPORTED_KEY } from '../../storage/metadata/import.js';
import { blobDataKey, tagKey } from '../../storage/layout.js';
import { reindexCommand } from '../../server/commands/reindex.js';
import { DATABASE_KINDS, type TestDatabase } from '../helpers/metadata-databases.js';
import { DRIVERS, filesystemDriverFactory, type DriverBackend, type DriverFactory } from '../helpers/drivers.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { pushBlob, pushImage, pushIndex, pushManifest, type PushedImage } from '../helpers/images.js';
import { ACCEPT_ALL, EMPTY_CONFIG, ociArtifact, randomBlob, type Manifest } from '../helpers/content.js';
import { asBytes } from '../helpers/registry-client.js';

/** The backend of a registry that has stopped, for a new one to start over (the first owner removes it). */
function sameBackend(backend: DriverBackend): DriverFactory {
  return { name: backend.root, create: async () => ({ ...backend, cleanup: async () => {} }) };
}

interface Content {
  v1: PushedImage;
  v2: PushedImage;
  index: Manifest;
  referrer: Manifest;
}

/** Two tagged images and a referrer in a nested repository, and a multi-arch index. */
async function pushContent(reg: TestRegistry): Promise<Content> {
  const v1 = await pushImage(reg, 'team/app', 'v1', { seed: 1 });
  const v2 = await pushImage(reg, 'team/app', 'v2', { seed: 2, format: 'docker' });
  await pushManifest(reg, 'team/app', 'latest', v2.manifest);
  const signature = randomBlob(64, 9);
  for (const blob of [signature, EMPTY_CONFIG]) await pushBlob(reg, 'team/app', blob);
  const referrer = ociArtifact('application/vnd.example.sig', [signature], v1.manifest.descriptor);
  await pushManifest(reg, 'team/app', referrer.digest, referrer);
  const amd = await pushImage(reg, 'multi', 'amd64', { seed: 3 });
  const arm = await pushImage(reg, 'multi', 'arm64', { seed: 4 });
  const index = await pushIndex(reg, 'multi', 'latest', [amd.manifest, arm.manifest]);
  return { v1, v2, index, referrer };
}

/** What a client sees: the catalog, each repository's tags, every tag's manifest and the referrers. */
async function view(reg: TestRegistry, content: Content): Promise<unknown> {
  const catalog = (await reg.request.get('/v2/_catalog')).body as { repositories: string[] };
  const tags: Record<string, unknown> = {};
  const manifests: Record<string, unknown> = {};
  for (const name of catalog.repositories) {
    const list = (await reg.request.get(`/v2/${name}/tags/list`)).body as { tags: string[] };
    tags[name] = list.tags;
    for (const tag of list.tags) {
      const res = await asBytes(reg.request.get(`/v2/${name}/manifests/${tag}`).set('Accept', ACCEPT_ALL));
      manifests[`${name}:${tag}`] = [res.status, res.headers['content-type'], res.headers['docker-content-digest'], (res.body as Buffer).length];
    }
  }
  const referrers = (await reg.request.get(`/v2/team/app/referrers/${content.v1.manifest.digest}`)).body as { manifests: unknown[] };
  return { catalog, tags, manifests, referrers: referrers.manifests };
}

/** Storage over a registry's backend with its own handle on the database at url, nothing imported. */
async function openWith(backend: DriverBackend, url: string): Promise<RegistryStorage> {
  const metadata = new MetadataStore(await MetadataDatabase.open(url, { fsync: false }));
  return openRegistryStorageOn(backend.driver(), DEFAULT_CACHE_OPTIONS, metadata, { importExisting: false });
}

/** Runs `stowage reindex [--verify]` as the CLI does; its exit status and the lines it printed. */
async function run(storage: RegistryStorage, reg: TestRegistry, verify: boolean): Promise<{ code: number; lines: string[]; notes: string[] }> {
  const lines: string[] = [];
  const notes: string[] = [];
  const code = await reindexCommand(storage, reg.config, { verify, json: false, note: (l) => notes.push(l) }, (l) => lines.push(l));
  return { code, lines, notes };
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe.each(DATABASE_KINDS)('metadata import and reindex on $name', (kind) => {
  describe.each(DRIVERS)('over $name', (factory) => {
    it('imports a data directory written without a database on the first start with one', async () => {
      const before = await startTestRegistry(factory, { database: 'none' });
      cleanups.push(() => before.cleanup());
      const content = await pushContent(before);
      const seen = await view(before, content);
      await before.stop();

      const after = await startTestRegistry(sameBackend(before.backend), { database: kind.name });
      cleanups.push(() => after.cleanup());
      // Listed from the database now, and the same as the storage walk listed.
      expect(await view(after, content)).toEqual(seen);
      const metadata = after.storage.metadata!;
      expect((await metadata.listRepositories()).items).toEqual(['multi', 'team/app']);
      expect((await metadata.listTags('team/app'))?.items).toEqual(['latest', 'v1', 'v2']);
      expect(JSON.parse((await metadata.getMeta(IMPORTED_KEY))!)).toMatchObject({ repositories: 2, manifests: 6, tags: 6, skipped: 0 });
    });
  });

  it('rebuilds a lost database with stowage reindex', async () => {
    const first: TestDatabase = await kind.create();
    const reg = await startTestRegistry(filesystemDriverFactory, { database: { url: first.url } });
    cleanups.push(() => reg.cleanup());
    const content = await pushContent(reg);
    const seen = await view(reg, content);
    await reg.stop();
    // The database is gone (for SQLite, its file); a new, empty one takes its place.
    await first.drop();
    const second = await kind.create();
    cleanups.push(() => second.drop());

    const storage = await openWith(reg.backend, second.url);
    try {
      const reindexed = await run(storage, reg, false);
      expect(reindexed.code).toBe(0);
      expect(reindexed.lines).toEqual([
        expect.stringMatching(/^2 repositories, 6 manifests, 6 tags indexed; 0 manifests skipped, 0 entries removed/),
      ]);
      expect(await run(storage, reg, true)).toEqual({ code: 0, lines: [], notes: [expect.stringMatching(/; 0 differences from the database$/)] });
    } finally {
      await storage.close();
    }

    const after = await startTestRegistry(sameBackend(reg.backend), { database: { url: second.url } });
    cleanups.push(() => after.stop());
    expect(await view(after, content)).toEqual(seen);
  });

  it('--verify names every difference after either side is damaged, and reindex repairs what storage can serve', async () => {
    const reg = await startTestRegistry(filesystemDriverFactory, { database: kind.name });
    cleanups.push(() => reg.cleanup());
    const { v1, v2, index, referrer } = await pushContent(reg);
    const storage = reg.storage;
    const metadata = storage.metadata!;
    expect(await run(storage, reg, true)).toMatchObject({ code: 0, lines: [] });

    // Storage loses a tag and a blob; the database loses a tag and a manifest and gains a repository.
    await storage.driver.delete(tagKey('team/app', 'v2'));
    await storage.driver.delete(blobDataKey(v1.layers[0].digest));
    await metadata.deleteTag('multi', 'latest');
    await metadata.deleteManifest('team/app', referrer.digest);
    await metadata.ensureRepository('ghost');
    // And a repository reaches storage without the database (written by a stowage without one).
    const solo = await pushImage(new RegistryStorage(storage.driver), 'solo', 'v1', { seed: 5 });

    const verified = await run(storage, reg, true);
    expect(verified.code).toBe(1);
    expect(verified.lines).toEqual([
      'repository ghost: in the database, not in storage',
      `tag multi:latest: in storage (${index.digest}), not in the database`,
      'repository solo: in storage, not in the database',
      `manifest solo@${solo.manifest.digest}: in storage, not in the database (stowage reindex adds it)`,
      `tag solo:v1: in storage (${solo.manifest.digest}), not in the database`,
      `manifest team/app@${referrer.digest}: in storage, not in the database (stowage reindex adds it)`,
      `manifest team/app@${v1.manifest.digest}: listed in the database, but blob ${v1.layers[0].digest} is missing from storage`,
      `tag team/app:v2: in the database (${v2.manifest.digest}), not in storage`,
    ]);
    expect(verified.notes).toEqual([expect.stringMatching(/; 8 differences from the database$/)]);

    const reindexed = await run(storage, reg, false);
    expect(reindexed.code).toBe(0);
    expect(reindexed.lines).toEqual([
      `skipped: team/app@${v1.manifest.digest}: 1 blob(s) missing`,
      `removed: manifest team/app@${v1.manifest.digest}: 1 blob(s) missing`,
      'removed: repository ghost',
      'removed: tag team/app:v1',
      'removed: tag team/app:v2',
      expect.stringMatching(/^3 repositories, 6 manifests, 5 tags indexed; 1 manifests skipped, 4 entries removed/),
    ]);
    expect((await reg.request.get('/v2/solo/tags/list')).body).toEqual({ name: 'solo', tags: ['v1'] });
    expect((await reg.request.get('/v2/team/app/tags/list')).body).toEqual({ name: 'team/app', tags: ['latest'] });
    expect((await reg.request.get('/v2/_catalog')).body).toEqual({ repositories: ['multi', 'solo', 'team/app'] });

    // What storage cannot serve stays a difference until the blob is back.
    expect((await run(storage, reg, true)).lines).toEqual([
      `manifest team/app@${v1.manifest.digest}: in storage, not in the database (cannot be listed: 1 blob(s) missing)`,
      `tag team/app:v1: in storage (${v1.manifest.digest}), not in the database`,
    ]);
    await storage.driver.putContent(blobDataKey(v1.layers[0].digest), v1.layers[0].bytes);
    expect((await run(storage, reg, false)).code).toBe(0);
    expect(await run(storage, reg, true)).toMatchObject({ code: 0, lines: [] });
    expect((await reg.request.get('/v2/team/app/tags/list')).body).toEqual({ name: 'team/app', tags: ['latest', 'v1'] });
  });
});
