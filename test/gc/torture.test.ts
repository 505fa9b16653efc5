// The torture test of online garbage collection (issue: no acknowledged image is ever lost).
// Eight clients push for a bounded time: fresh images, chunked and monolithic uploads, layers
// reused by HEAD-then-skip and by cross-repository mounts, one push in four deleting an old image
// and reusing its layer, indexes of child manifests, tags moved, a new repository every few
// pushes. Beside them two collection loops run with no grace period, alternating plain and
// deleteUntagged runs. Afterwards every tag last answered 201 must point at what it was set to,
// every manifest and blob it reaches is pulled and re-hashed, and everything listed (_catalog,
// tags lists) must be servable down to its blobs.
//
// It runs on the two shapes a registry has: one process on the filesystem with its embedded
// SQLite database, `stowage gc` beside it on the same database file; and three replicas on one S3
// bucket sharing one PostgreSQL database, the clients spread over them, one replica collecting
// on its schedule and `stowage gc` from a fourth process.
//
// With no grace period a blob nobody references yet is only safe from the collection running
// while it arrives, so some pushes fail (MANIFEST_BLOB_UNKNOWN) and are counted, never verified.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filesystemDriverFactory, existingStore } from '../helpers/drivers.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { Pusher, prng, verify, verifyListed, type Expected } from '../helpers/pusher.js';
import type { Blob } from '../helpers/content.js';
import { startS3rver, type S3rverInstance } from '../helpers/s3rver.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { collectGarbage } from '../../storage/jobs/gc.js';
import { RegistryStorage } from '../../storage/registry.js';
import { MetadataDatabase } from '../../storage/metadata/database.js';
import { MetadataStore } from '../../storage/metadata/metadata-store.js';

const SECONDS = Number(process.env.STOWAGE_TORTURE_SECONDS ?? 20);
const PUSHERS = 8;
const MIN_RUNS = 3;

async function collectLoop(
  storage: RegistryStorage,
  going: () => boolean,
  counts: { runs: number; busy: number; deleted: number },
  random: () => number,
): Promise<void> {
  while (going()) {
    try {
      const report = await collectGarbage(storage, { gracePeriodMs: 0, deleteUntagged: random() < 0.5 });
      counts.runs++;
      counts.deleted += report.blobsDeleted.length + report.manifestsDeleted.length;
    } catch (err) {
      if ((err as Error).name !== 'GcBusyError') throw err;
      counts.busy++;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

/** "stowage gc" in another process: its own driver, caches and database connection over the same data. */
async function secondProcess(reg: TestRegistry): Promise<RegistryStorage> {
  const metadata = new MetadataStore(await MetadataDatabase.open(reg.databaseUrl!, { fsync: false }));
  const storage = new RegistryStorage(reg.backend.driver(), undefined, metadata);
  await storage.open();
  return storage;
}

async function torture(name: string, replicas: TestRegistry[]): Promise<void> {
  const seed = Number(process.env.STOWAGE_TORTURE_SEED ?? Date.now() % 100_000);
  const random = prng(seed);
  const expected: Expected = { tags: new Map(), acknowledged: 0, failed: new Map() };
  const shared: Array<{ name: string; blob: Blob }> = [];
  // Clients push for at least SECONDS and until a collection has finished while they push;
  // the collectors go on until they have finished a few runs (a loaded machine collects slowly
  // on S3, and a registry that stops growing is collected faster); never past the hard stop.
  const until = Date.now() + SECONDS * 1000;
  const hardStop = until + 300_000;
  const counts = { runs: 0, busy: 0, deleted: 0 };
  let pushing = true;
  const pushersGoing = () => Date.now() < hardStop && (Date.now() < until || counts.runs < 1);
  const going = () => Date.now() < hardStop && (pushing || counts.runs < MIN_RUNS);
  const pushers = Array.from(
    { length: PUSHERS },
    (_, i) => new Pusher(() => replicas[i % replicas.length].request, i, prng(seed * 31 + i), expected, shared),
  );
  const cli = await secondProcess(replicas[0]);
  try {
    await Promise.all([
      Promise.all(
        pushers.map(async (p) => {
          while (pushersGoing()) await p.step();
        }),
      ).finally(() => {
        pushing = false;
      }),
      collectLoop(replicas[0].storage, going, counts, random),
      collectLoop(cli, going, counts, prng(seed + 7)),
    ]);
    // One last collection after the pushes, then everything acknowledged must still pull.
    await collectGarbage(cli, { gracePeriodMs: 0, deleteUntagged: true });
  } finally {
    await cli.close();
  }
  // Tags moved through other replicas: read storage afresh (the replicas test covers how soon).
  for (const replica of replicas) replica.storage.cache.clear();

  const problems = await verify(replicas[0].request, expected);
  const listed = await verifyListed(replicas[replicas.length - 1].request);
  const summary = {
    seed,
    acknowledged: expected.acknowledged,
    tagsChecked: expected.tags.size,
    tagsListed: listed.tags,
    collections: counts,
    failedPushes: Object.fromEntries(expected.failed),
  };
  expect(problems, JSON.stringify(summary)).toEqual([]);
  expect(listed.problems, JSON.stringify(summary)).toEqual([]);
  // The run must have done something worth checking.
  expect(expected.acknowledged, JSON.stringify(summary)).toBeGreaterThan(20);
  expect(listed.tags, JSON.stringify(summary)).toBeGreaterThan(0);
  expect(counts.runs, JSON.stringify(summary)).toBeGreaterThanOrEqual(MIN_RUNS);
  expect(counts.deleted, JSON.stringify(summary)).toBeGreaterThan(0);
  console.log(`gc torture (${name}): ${JSON.stringify(summary)}`);
}

describe('garbage collection torture on the filesystem with SQLite', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startTestRegistry(filesystemDriverFactory, { database: 'sqlite' });
  });
  afterAll(() => reg?.cleanup());

  it(`loses nothing acknowledged while ${PUSHERS} clients push and two collectors loop for ${SECONDS} s`, { timeout: (SECONDS + 420) * 1000 }, () =>
    torture('filesystem + SQLite', [reg]),
  );
});

describe('garbage collection torture on three S3 replicas with PostgreSQL', () => {
  let s3: S3rverInstance;
  let database: TestDatabase;
  const replicas: TestRegistry[] = [];
  beforeAll(async () => {
    s3 = await startS3rver();
    database = await createTestDatabase();
    const settings = { rootdirectory: 'registry' };
    const store = existingStore({ root: `s3://${s3.bucket}/registry`, driver: () => s3.driver(settings), config: { s3: s3.settings(settings) } });
    for (let i = 0; i < 3; i++) replicas.push(await startTestRegistry(store, { database: { url: database.url } }));
  });
  afterAll(async () => {
    for (const replica of replicas) await replica.cleanup();
    await database?.drop();
    await s3?.close();
  });

  it(
    `loses nothing acknowledged while ${PUSHERS} clients push through 3 replicas and two collectors loop for ${SECONDS} s`,
    { timeout: (SECONDS + 420) * 1000 },
    () => torture('S3 + PostgreSQL, 3 replicas', replicas),
  );
});
