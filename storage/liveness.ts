// The protocol that lets garbage collection run beside pushes, on any driver, from any process,
// without ever deleting something a push was acknowledged for. Writers and the collector each
// write first and read second (Dekker's pattern), so whichever comes second sees the other:
//
//   Writer: "reference, then retain". A request that makes an object reachable (a layer link,
//   a manifest revision, a tag, a referrer entry) writes that reference first, then retains
//   every object the reference depends on: driver.touch() marks it used now and says whether it
//   is there. One that is missing is moved back from where a collection set it aside, or
//   rewritten from the bytes the writer holds. Only when every retain succeeded is the request
//   acknowledged; otherwise it fails, and nothing it was acknowledged for depends on the object.
//
//   Collector: "set aside, then recheck". A collection that started at T0 (storage's clock) only
//   deletes an object its mark phase did not reach. It moves the object aside
//   (driver.setAside()), which answers the object's last use counting every touch that found it.
//   Used after the cutoff (T0 minus the larger of the grace period and the driver's
//   clockMarginMs): it goes back. Otherwise the aside copy is deleted. A proxy cache eviction
//   pass (storage/jobs/proxy-eviction.ts) is a collector too, with no grace period: its scan of
//   links and revisions is its mark phase.
//
// Why nothing acknowledged is lost: a writer's last reference write W happened either before
// the cutoff, and then the mark phase (which reads storage after T0) saw the reference and
// never set the object aside; or after it, and then the writer's retain touched the object
// after W, that is after the cutoff (the margin covers storage stamping times coarsely). If that touch found the object, it landed
// before the move aside and the recheck sends the object back; if not, the writer moved it back
// itself or failed before answering. A collection killed between its two steps leaves the
// object aside; recoverAside() (at every collection's and every server's start) moves it back,
// and writers look there too. Tests: test/gc/liveness.test.ts, test/gc/torture.test.ts.
import type { StorageDriver } from './drivers/driver.js';
import { isNotFound } from './errors.js';
import { GC_ASIDE_ROOT, asideKey, asidePrefix } from './layout.js';
import { crashPoint } from './crash-points.js';

/** Pauses for the race tests (test/gc/liveness.test.ts): each runs between the two steps named. */
export interface LivenessHooks {
  /** Collector: after an object was set aside, before its last use is judged. */
  afterSetAside?(key: string): Promise<void>;
}

function isGone(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return isNotFound(err) || code === 'NoSuchKey' || code === 'NotFound';
}

const RUN_ID_RE = /^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/;

/** The runs that have set something aside (usually none). */
async function asideRuns(driver: StorageDriver): Promise<string[]> {
  return (await driver.list(GC_ASIDE_ROOT)).filter((run) => RUN_ID_RE.test(run));
}

/** Moves key back from wherever a collection run set it aside; true when it found it there. */
async function moveBack(driver: StorageDriver, key: string, runs?: string[]): Promise<boolean> {
  for (const run of runs ?? (await asideRuns(driver))) {
    try {
      await driver.move(asideKey(run, key), key);
      return true;
    } catch (err) {
      if (!isGone(err)) throw err;
    }
  }
  return false;
}

/**
 * The writer's retain of one object: touched and present, moved back from aside, or rewritten by
 * restore (when the writer holds its bytes). False when the object is gone for good: the caller
 * must then fail instead of acknowledging.
 */
export async function retain(driver: StorageDriver, key: string, restore?: () => Promise<void>): Promise<boolean> {
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await driver.touch(key)) return true;
    if (await moveBack(driver, key)) continue;
    if (!restore) return false;
    await restore();
  }
  return driver.touch(key);
}

/** Retains every key, a few at a time; the keys that are gone for good. */
export async function retainAll(
  driver: StorageDriver,
  keys: Iterable<string>,
  restore?: (key: string) => (() => Promise<void>) | undefined,
): Promise<string[]> {
  const pending = [...new Set(keys)];
  const gone: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < pending.length) {
      const key = pending[next++];
      if (!(await retain(driver, key, restore?.(key)))) gone.push(key);
    }
  };
  await Promise.all(Array.from({ length: Math.min(RETAIN_CONCURRENCY, pending.length) }, worker));
  return gone;
}

const RETAIN_CONCURRENCY = 8;

export type DeleteOutcome = 'deleted' | 'kept' | 'absent';

/**
 * The collector's delete: the object at key goes only if nobody used it after cutoff (ms
 * since the epoch, storage's clock). 'kept' when a writer used it meanwhile, 'absent' when it was
 * not there. With dryRun, nothing moves: the answer is what would happen now.
 */
export async function deleteUnlessUsed(
  driver: StorageDriver,
  run: string,
  key: string,
  cutoff: number,
  options: {
    dryRun?: boolean;
    hooks?: LivenessHooks;
    /**
     * Asked after the object is set aside: does a metadata database row reference it now? A
     * push records its row before it retains (storage/metadata/metadata-store.ts), so either
     * this sees the row, or the push's retain comes after the set-aside and moves it back.
     */
    referenced?: () => Promise<boolean>;
  } = {},
): Promise<DeleteOutcome> {
  if (options.dryRun) {
    try {
      return (await driver.stat(key)).modifiedAt.getTime() > cutoff ? 'kept' : 'deleted';
    } catch (err) {
      if (isNotFound(err)) return 'absent';
      throw err;
    }
  }
  const aside = asideKey(run, key);
  const lastUse = await driver.setAside(key, aside);
  if (lastUse === undefined) return 'absent';
  crashPoint('gc-set-aside');
  await options.hooks?.afterSetAside?.(key);
  if (lastUse.getTime() > cutoff || (options.referenced && (await options.referenced()))) {
    await moveBack(driver, key, [run]);
    return 'kept';
  }
  // A writer may have moved it back meanwhile (then it stays, whatever lastUse said).
  try {
    await driver.stat(aside);
  } catch (err) {
    if (isNotFound(err)) return 'kept';
    throw err;
  }
  await driver.delete(aside);
  crashPoint('gc-deleted');
  return 'deleted';
}

/**
 * Moves the object at key back if a collection has it set aside; true when it did. For reads
 * that find a linked blob missing: a push that checks a layer (HEAD) while a collection is
 * deciding about it gets it back instead of a 404.
 */
export function rescue(driver: StorageDriver, key: string): Promise<boolean> {
  return moveBack(driver, key);
}

/**
 * Moves back everything the runs not in live set aside (runs killed between their two steps),
 * and drops their folders. Always safe: what should go is set aside again by a later run.
 */
export async function recoverAside(driver: StorageDriver, live: ReadonlySet<string> = new Set()): Promise<string[]> {
  const recovered: string[] = [];
  const walk = async (run: string, relative: string): Promise<void> => {
    const prefix = relative ? asideKey(run, relative) : asidePrefix(run);
    for (const child of await driver.list(prefix)) {
      const key = relative ? `${relative}/${child}` : child;
      if ((await driver.list(`${prefix}/${child}`)).length > 0) {
        await walk(run, key);
      } else if ((await isObject(driver, asideKey(run, key))) && (await moveBack(driver, key, [run]))) {
        // (An empty folder is what another recovery left after moving its object back.)
        recovered.push(key);
      }
    }
  };
  for (const run of await asideRuns(driver)) {
    if (live.has(run)) continue;
    await walk(run, '');
    await driver.delete(asidePrefix(run));
  }
  return recovered;
}

async function isObject(driver: StorageDriver, key: string): Promise<boolean> {
  try {
    await driver.stat(key);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Drops a finished run's (empty) aside folder. */
export async function dropAside(driver: StorageDriver, run: string): Promise<void> {
  await driver.delete(asidePrefix(run));
}
