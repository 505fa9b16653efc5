// Replica caches kept in step through PostgreSQL (storage/change-feed.ts): two registries on one
// filesystem directory and one PostgreSQL database, as two processes on one host (or on a shared
// volume) would run. What test/s3/replicas.test.ts shows on a bucket, and the edges: a read that
// began before a change is not cached after it, deletes are announced only once storage agrees,
// a lost LISTEN connection sends the cache back to its TTL until it listens again, and an older
// replica's announcement (a bare repository name) still drops what it should.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { execFile } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { bundle } from '../../scripts/bundle.mjs';
import { FilesystemDriver } from '../../storage/drivers/fs/fs-driver.js';
import { RegistryCache } from '../../storage/cache.js';
import { CHANGES_CHANNEL, decodeChange, encodeChange, type Change } from '../../storage/metadata/changes.js';
import { LISTENER_APPLICATION_NAME } from '../../storage/metadata/pg-listener.js';
import { applied, feedLive } from '../helpers/change-feed.js';
import { ACCEPT_ALL } from '../helpers/content.js';
import { existingStore } from '../helpers/drivers.js';
import { pushImage, type PushedImage } from '../helpers/images.js';
import { PausingDriver } from '../helpers/pausing-driver.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { tempDir } from '../helpers/temp-dir.js';

/** The cache TTL of these registries; a tag kept while the feed is live outlasts it. */
const TTL_MS = 30_000;

async function tagDigest(reg: TestRegistry, name: string, tag: string): Promise<string | null> {
  const answer = await fetch(`${reg.url}/v2/${name}/manifests/${tag}`, { method: 'HEAD', headers: { Accept: ACCEPT_ALL } });
  return answer.status === 200 ? answer.headers.get('docker-content-digest') : null;
}

describe('two replicas on one directory and one PostgreSQL database', () => {
  let dir: string;
  let database: TestDatabase;
  let a: TestRegistry;
  let b: TestRegistry;
  let drivers: Map<TestRegistry, PausingDriver>;

  async function replica(): Promise<TestRegistry> {
    const store = existingStore({ root: dir, driver: () => new FilesystemDriver(dir), config: { filesystem: { rootdirectory: dir } } });
    let driver!: PausingDriver;
    const reg = await startTestRegistry(store, {
      cacheTtl: `${TTL_MS}ms`,
      database: { url: database.url },
      wrapDriver: (inner) => (driver = new PausingDriver(inner)),
    });
    drivers.set(reg, driver);
    return reg;
  }

  /** Pushes through a, and waits until both replicas have heard of it. */
  async function push(name: string, tag: string, seed: number): Promise<PushedImage> {
    const heard = [a, b].map((r) => applied(r.storage, { kind: 'tag', repository: name, tag }));
    const image = await pushImage(a, name, tag, { seed });
    await Promise.all(heard);
    return image;
  }

  beforeEach(async () => {
    dir = await tempDir('stowage-replicas-');
    database = await createTestDatabase();
    drivers = new Map();
    a = await replica();
    b = await replica();
  });

  afterEach(async () => {
    await a?.cleanup();
    await b?.cleanup();
    await database?.drop();
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('serves a tag moved through one replica from the other on its next request', async () => {
    expect(b.storage.changes?.live).toBe(true);
    const first = await push('app', 'latest', 1);
    expect(await tagDigest(b, 'app', 'latest')).toBe(first.manifest.digest);
    expect(b.storage.cachedManifest('app', 'latest')?.digest).toBe(first.manifest.digest);
    const second = await push('app', 'latest', 2);
    expect(await tagDigest(b, 'app', 'latest')).toBe(second.manifest.digest);
  });

  it('keeps tags longer than the TTL while the feed is live', async () => {
    await push('app', 'latest', 1);
    await tagDigest(b, 'app', 'latest');
    expect(b.storage.cache.tags.getRemainingTTL(RegistryCache.tagKey('app', 'latest'))).toBeGreaterThan(TTL_MS);
  });

  it('does not cache a tag read before a change it hears of while the read is in flight', async () => {
    const first = await push('app', 'latest', 1);
    // b reads the tag's link (the first digest) and is held there, holding what it read.
    const gate = drivers.get(b)!.pause('getContent', (key) => key.endsWith('/_manifests/tags/latest/current/link'));
    const stale = fetch(`${b.url}/v2/app/manifests/latest`, { headers: { Accept: ACCEPT_ALL } });
    await gate.reached;
    const second = await push('app', 'latest', 2);
    gate.open();
    // That request answers what it read; the next one must not be served from it.
    expect((await stale).headers.get('docker-content-digest')).toBe(first.manifest.digest);
    expect(await tagDigest(b, 'app', 'latest')).toBe(second.manifest.digest);
  });

  it('announces a deleted tag or manifest only once storage no longer holds it', async () => {
    const image = await push('app', 'v1', 1);
    await push('app', 'v2', 1);
    const order: string[] = drivers.get(a)!.calls;
    const db = a.storage.metadata!.database;
    const announce = db.announce.bind(db);
    db.announce = async (channel, payload) => {
      order.push(`announce ${JSON.stringify(decodeChange(payload))}`);
      await announce(channel, payload);
    };

    const untagged = applied(b.storage, { kind: 'tag', tag: 'v1' });
    expect((await a.request.delete('/v2/app/manifests/v1')).status).toBe(202);
    await untagged;
    expect(await tagDigest(b, 'app', 'v1')).toBeNull();
    const deletedTag = order.findIndex((call) => call.startsWith('delete ') && call.endsWith('/_manifests/tags/v1'));
    const toldTag = order.findIndex((call) => call.includes('"tag":"v1"'));
    expect(deletedTag).toBeGreaterThanOrEqual(0);
    expect(toldTag).toBeGreaterThan(deletedTag);

    expect(await tagDigest(b, 'app', 'v2')).toBe(image.manifest.digest);
    const deleted = applied(b.storage, { kind: 'deleted', digest: image.manifest.digest });
    expect((await a.request.delete(`/v2/app/manifests/${image.manifest.digest}`)).status).toBe(202);
    await deleted;
    expect(await tagDigest(b, 'app', 'v2')).toBeNull();
    const deletedRevision = order.findIndex((call) => call.startsWith('delete ') && call.includes('/_manifests/revisions/'));
    const toldManifest = order.findIndex((call) => call.includes('"kind":"deleted"'));
    expect(deletedRevision).toBeGreaterThan(toldTag);
    expect(toldManifest).toBeGreaterThan(deletedRevision);
  });

  it('falls back to the TTL while its LISTEN connection is lost, and drops everything again once back', async () => {
    const first = await push('app', 'latest', 1);
    await tagDigest(b, 'app', 'latest');
    expect(b.storage.cachedManifest('app', 'latest')).toBeDefined();

    // The server ends both replicas' LISTEN connections (as a restart or a failover would), and
    // takes no new ones until the test lets it: the replicas stay deaf for as long as it looks.
    const lost = feedLive(b.storage, false);
    const back = feedLive(b.storage, true);
    const maintenance = new URL(database.url);
    maintenance.pathname = '/postgres';
    const admin = new pg.Client({ connectionString: maintenance.toString() });
    await admin.connect();
    try {
      await admin.query(`alter database "${database.name}" allow_connections false`);
      // Every connection of the database: the pools' idle ones too, which must not take the
      // process down with them.
      const { rows } = await admin.query<{ application_name: string }>(
        'select application_name, pg_terminate_backend(pid) from pg_stat_activity where datname = $1',
        [database.name],
      );
      expect(rows.filter((r) => r.application_name === LISTENER_APPLICATION_NAME)).toHaveLength(2);
      await lost;
      // Announcements may be missed now: nothing cached before is trusted, and what is cached
      // meanwhile expires after the TTL.
      expect(b.storage.changes?.live).toBe(false);
      expect(b.storage.cachedManifest('app', 'latest')).toBeUndefined();
      expect(await tagDigest(b, 'app', 'latest')).toBe(first.manifest.digest);
      expect(b.storage.cache.tags.getRemainingTTL(RegistryCache.tagKey('app', 'latest'))).toBeLessThanOrEqual(TTL_MS);
    } finally {
      await admin.query(`alter database "${database.name}" allow_connections true`);
      await admin.end();
    }

    // Listening again: what was read while deaf is dropped, and changes arrive again.
    await back;
    expect(b.storage.changes?.live).toBe(true);
    expect(b.storage.cachedManifest('app', 'latest')).toBeUndefined();
    const second = await push('app', 'latest', 2);
    expect(await tagDigest(b, 'app', 'latest')).toBe(second.manifest.digest);
  });

  it("drops a whole repository on an older replica's announcement (its name alone)", async () => {
    const image = await push('app', 'latest', 1);
    await push('other', 'latest', 1);
    for (const name of ['app', 'other']) expect(await tagDigest(b, name, 'latest')).toBe(image.manifest.digest);
    const heard = applied(b.storage, { kind: 'repository', repository: 'app' });
    await a.storage.metadata!.database.announce(CHANGES_CHANNEL, 'app');
    await heard;
    expect(b.storage.cachedManifest('app', 'latest')).toBeUndefined();
    expect(b.storage.cachedManifest('other', 'latest')?.digest).toBe(image.manifest.digest);
  });
});

describe('a LISTEN connection', () => {
  it('does not keep a process alive that is otherwise done (a stowage command)', async () => {
    const database = await createTestDatabase();
    const dir = await tempDir('stowage-listen-');
    try {
      // A process that listens, closes its pool and has nothing left to do: it must exit.
      const repo = fileURLToPath(new URL('../..', import.meta.url));
      await fsp.writeFile(
        path.join(dir, 'main.ts'),
        [
          `import { MetadataDatabase } from ${JSON.stringify(path.join(repo, 'storage/metadata/database.js'))};`,
          'const db = await MetadataDatabase.open(process.argv[2]);',
          "await db.listen('x', { message: () => {} });",
          'await db.db.destroy();',
          "console.log('listened');",
        ].join('\n'),
      );
      await bundle({ entryPoints: [path.join(dir, 'main.ts')], outfile: path.join(dir, 'main.mjs') });
      const env = { ...process.env, NODE_PATH: path.join(repo, 'node_modules') };
      const { stdout } = await promisify(execFile)(process.execPath, [path.join(dir, 'main.mjs'), database.url], { env, timeout: 15_000 });
      expect(stdout.trim()).toBe('listened');
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
      await database.drop();
    }
  });
});

describe('change payloads', () => {
  it('round-trip every kind of change', () => {
    const changes: Change[] = [
      { kind: 'tag', repository: 'team/app', tag: 'v1.2' },
      { kind: 'pushed', repository: 'team/app', digest: `sha256:${'a'.repeat(64)}` },
      { kind: 'deleted', repository: 'team/app', digest: `sha256:${'b'.repeat(64)}` },
      { kind: 'repository', repository: 'team/app' },
      { kind: 'everything' },
    ];
    for (const change of changes) expect(decodeChange(encodeChange(change))).toEqual(change);
  });

  it('read what they cannot understand as "everything changed"', () => {
    for (const payload of ['', '*', '{not json', '{"t":"v1"}', '{"r":7}', 'Not A Name', '../x']) {
      expect(decodeChange(payload), payload).toEqual({ kind: 'everything' });
    }
  });
});

describe('the cache refuses a read that began before a change', () => {
  it('of its repository, and only of its repository', () => {
    const cache = new RegistryCache();
    const since = cache.stamp();
    cache.forgetTag('team/app', 'v1');
    cache.setTag('team/app', 'v1', 'sha256:old', since);
    cache.setTag('team/other', 'v1', 'sha256:fine', since);
    expect(cache.tags.get(RegistryCache.tagKey('team/app', 'v1'))).toBeUndefined();
    expect(cache.tags.get(RegistryCache.tagKey('team/other', 'v1'))).toBe('sha256:fine');
    cache.setTag('team/app', 'v1', 'sha256:new', cache.stamp());
    expect(cache.tags.get(RegistryCache.tagKey('team/app', 'v1'))).toBe('sha256:new');
  });

  it('of anything, after everything was dropped', () => {
    const cache = new RegistryCache();
    const since = cache.stamp();
    cache.clear();
    cache.setManifest('team/app', { digest: 'sha256:x', mediaType: 'm', bytes: Buffer.from('{}') }, since);
    expect(cache.manifests.size).toBe(0);
  });

  it('even after more repositories changed than it keeps track of', () => {
    const cache = new RegistryCache();
    const since = cache.stamp();
    cache.forgetTag('team/app', 'v1');
    for (let i = 0; i < 10_001; i++) cache.forgetTag(`r${i}`, 'v1');
    cache.setTag('team/app', 'v1', 'sha256:old', since);
    expect(cache.tags.size).toBe(0);
  });
});
