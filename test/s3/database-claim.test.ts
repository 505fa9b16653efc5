// One metadata database per bucket (storage/database-claim.ts): two test registries on one s3rver
// bucket, each as its own process would be. The first starts on its own SQLite file as a
// registry:2-style config does; a second with another database is refused at start-up and told
// to use PostgreSQL; what shares the first one's database (a maintenance command on the same
// file, replicas on one PostgreSQL database) is let in; a claim left by a process that is gone
// does not block the next one.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configFrom } from '../../server/config.js';
import { openStorage } from '../../server/open-storage.js';
import { DatabaseConflictError, type ClaimRecord } from '../../storage/database-claim.js';
import { collectGarbage } from '../../storage/jobs/gc.js';
import { DATABASE_CLAIMS_ROOT } from '../../storage/layout.js';
import { existingStore, type DriverFactory } from '../helpers/drivers.js';
import { pushImage } from '../helpers/images.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startS3rver, type S3rverInstance } from '../helpers/s3rver.js';
import { tempDir } from '../helpers/temp-dir.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';

const ROOT = 'registry';

describe('one metadata database per bucket', () => {
  let s3: S3rverInstance;
  let store: DriverFactory;
  const started: TestRegistry[] = [];
  const databases: TestDatabase[] = [];
  const cleanups: Array<() => Promise<void>> = [];

  async function registry(database?: { url: string }): Promise<TestRegistry> {
    const reg = await startTestRegistry(store, { database });
    started.push(reg);
    return reg;
  }

  async function postgres(): Promise<{ url: string }> {
    const database = await createTestDatabase();
    databases.push(database);
    return database;
  }

  async function claims(): Promise<ClaimRecord[]> {
    const driver = s3.driver({ rootdirectory: ROOT });
    const out: ClaimRecord[] = [];
    for (const id of await driver.list(DATABASE_CLAIMS_ROOT)) {
      out.push(JSON.parse((await driver.getContent(`${DATABASE_CLAIMS_ROOT}/${id}`)).toString('utf8')) as ClaimRecord);
    }
    return out;
  }

  beforeEach(async () => {
    s3 = await startS3rver();
    // Each registry: its own local directory (and, by default, its own SQLite file in it) over one bucket.
    store = existingStore({
      root: `s3://${s3.bucket}/${ROOT}`,
      driver: () => s3.driver({ rootdirectory: ROOT }),
      config: { s3: s3.settings({ rootdirectory: ROOT }) },
    });
  });

  afterEach(async () => {
    for (const reg of started.splice(0)) await reg.cleanup();
    for (const database of databases.splice(0)) await database.drop();
    for (const cleanup of cleanups.splice(0)) await cleanup();
    await s3?.close();
  });

  it('refuses a second process with its own SQLite database, saying to use PostgreSQL', async () => {
    const first = await registry();
    await pushImage(first, 'team/app', 'v1');
    const refused = registry();
    await expect(refused).rejects.toThrow(DatabaseConflictError);
    await expect(refused).rejects.toThrow(/its own embedded SQLite database .* give every one the same PostgreSQL database/);
    await expect(refused).rejects.toThrow(`host ${hostname()}, pid ${process.pid}`);
    // The refused process left no claim behind; the first one's is still there and it still serves.
    expect((await claims()).map((c) => c.kind)).toEqual(['sqlite']);
    expect((await first.request.get('/v2/team/app/tags/list')).body).toEqual({ name: 'team/app', tags: ['v1'] });
  });

  it('refuses a PostgreSQL replica while a process on SQLite holds the bucket', async () => {
    await registry();
    await expect(registry(await postgres())).rejects.toThrow(/its own embedded SQLite database .* Stop that process, or give it this PostgreSQL/);
  });

  it('lets in every replica on one PostgreSQL database, and refuses one on another', async () => {
    const shared = await postgres();
    await registry(shared);
    await registry(shared);
    expect((await claims()).map((c) => c.kind)).toEqual(['postgres', 'postgres']);
    expect((await claims())[0].location).toBe(shared.url);
    await expect(registry(await postgres())).rejects.toThrow(/another PostgreSQL database .* must share one database/);
  });

  it('lets a maintenance command on the same SQLite file run beside the server', async () => {
    const file = join(await tempDir('stowage-db-'), 'stowage.db');
    cleanups.push(() => rm(dirname(file), { recursive: true, force: true }));
    const server = await registry({ url: `sqlite:${file}` });
    await pushImage(server, 'team/app', 'v1');
    // What `stowage gc -c config.yml` opens: the same bucket and the server's database file.
    const config = configFrom({
      storage: { s3: s3.settings({ rootdirectory: ROOT }), delete: { enabled: true } },
      stowage: { database: { url: `sqlite:${file}` } },
    });
    const cli = await openStorage(config);
    try {
      expect((await collectGarbage(cli)).manifestsKept).toBe(1);
      expect(await claims()).toHaveLength(2);
    } finally {
      await cli.close();
    }
    expect(await claims()).toHaveLength(1);
  });

  it('lets the next process in once the first has stopped', async () => {
    const first = await registry();
    await first.stop();
    expect(await claims()).toEqual([]);
    await registry();
  });

  it('does not wait for the claim of a process on this host that is gone (killed) to lapse', async () => {
    const child = spawn(process.execPath, ['-e', '']);
    await once(child, 'exit');
    const dead: ClaimRecord = {
      database: 'a-database-of-its-own',
      kind: 'sqlite',
      location: '/var/lib/stowage/stowage.db',
      host: hostname(),
      pid: child.pid!,
      startedAt: new Date().toISOString(),
    };
    await s3.driver({ rootdirectory: ROOT }).putContent(`${DATABASE_CLAIMS_ROOT}/00000000-0000-4000-8000-000000000000`, JSON.stringify(dead));
    await registry();
    expect((await claims()).map((c) => c.pid)).toEqual([process.pid]);
  });
});
