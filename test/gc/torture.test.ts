// The torture test of online garbage collection (issue: no acknowledged image is ever lost).
// Eight clients push for a bounded time: fresh images, chunked and monolithic uploads, layers
// reused by HEAD-then-skip and by cross-repository mounts, one push in four deleting an old image
// and reusing its layer, indexes of child manifests, tags moved, a new repository every few
// pushes. Beside them two collection loops run with no grace period, as the server's schedule
// (the same storage) and as `stowage gc` in another process would (a second storage over the
// same data), alternating plain and deleteUntagged runs. Afterwards every tag last answered 201
// must point at what it was set to, and every manifest and blob it reaches is pulled and re-hashed.
//
// With no grace period a blob nobody references yet is only safe from the collection running
// while it arrives, so some pushes fail (MANIFEST_BLOB_UNKNOWN) and are counted, never verified.
import { describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { Pusher, prng, verify, type Expected } from '../helpers/pusher.js';
import type { Blob } from '../helpers/content.js';
import { collectGarbage } from '../../storage/jobs/gc.js';
import { RegistryStorage } from '../../storage/registry.js';

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

describe.each(DRIVERS)('garbage collection torture on $name', (factory) => {
  const registry = useTestRegistry(factory);

  it(
    `loses nothing acknowledged while ${PUSHERS} clients push and two collectors loop for ${SECONDS} s`,
    { timeout: (SECONDS + 210) * 1000 },
    async () => {
      const reg = registry();
      const seed = Number(process.env.STOWAGE_TORTURE_SEED ?? Date.now() % 100_000);
      const random = prng(seed);
      const expected: Expected = { tags: new Map(), acknowledged: 0, failed: new Map() };
      const shared: Array<{ name: string; blob: Blob }> = [];
      // At least SECONDS, and on until the collectors have finished a few runs (a loaded machine
      // collects slowly on S3), but never past the hard stop.
      const until = Date.now() + SECONDS * 1000;
      const hardStop = until + 90_000;
      const counts = { runs: 0, busy: 0, deleted: 0 };
      const going = () => Date.now() < hardStop && (Date.now() < until || counts.runs < MIN_RUNS);
      const pushers = Array.from({ length: PUSHERS }, (_, i) => new Pusher(() => reg.request, i, prng(seed * 31 + i), expected, shared));
      // "stowage gc" in another process: its own storage, caches and all, over the same data.
      const cli = new RegistryStorage(reg.backend.driver());
      await Promise.all([
        ...pushers.map(async (p) => {
          while (going()) await p.step();
        }),
        collectLoop(reg.storage, going, counts, random),
        collectLoop(cli, going, counts, prng(seed + 7)),
      ]);
      // One last collection after the pushes, then everything acknowledged must still pull.
      await collectGarbage(cli, { gracePeriodMs: 0, deleteUntagged: true });

      const problems = await verify(reg.request, expected);
      const summary = {
        seed,
        acknowledged: expected.acknowledged,
        tagsChecked: expected.tags.size,
        collections: counts,
        failedPushes: Object.fromEntries(expected.failed),
      };
      expect(problems, JSON.stringify(summary)).toEqual([]);
      // The run must have done something worth checking.
      expect(expected.acknowledged, JSON.stringify(summary)).toBeGreaterThan(20);
      expect(counts.runs, JSON.stringify(summary)).toBeGreaterThanOrEqual(MIN_RUNS);
      expect(counts.deleted, JSON.stringify(summary)).toBeGreaterThan(0);
      console.log(`gc torture (${factory.name}): ${JSON.stringify(summary)}`);
    },
  );
});
