// One garbage collection at a time per storage, whichever process runs it (the server's schedule,
// `stowage gc` beside it, another replica). A run writes its lease, then lists the others: of two
// runs that start together at least one sees the other (write, then read), and it backs off.
// A lease is renewed while its run lives; one not renewed for LEASE_STALE_MS, or whose process
// on this host is gone, belongs to a run that died, and is cleared along with whatever that run
// left aside (storage/liveness.ts). The pull-through cache's eviction passes, which delete blobs
// too, take the same lease (storage/jobs/proxy-eviction.ts).
// Safety does not rest on the lease: two runs at once cannot delete anything a writer retained.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { StorageDriver } from '../drivers/driver.js';
import { isNotFound } from '../errors.js';
import { GC_LEASES_ROOT, gcLeaseKey } from '../layout.js';
import { recoverAside } from '../liveness.js';

export const LEASE_RENEW_MS = 10_000;
export const LEASE_STALE_MS = 60_000;

const RUN_ID_RE = /^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/;

/** Another collection holds the lease. */
export class GcBusyError extends Error {
  constructor(readonly since: Date) {
    super(`another garbage collection is running (since ${since.toISOString()}); try again later`);
    this.name = 'GcBusyError';
  }
}

/** The leases of runs that still live (renewed within LEASE_STALE_MS of now, storage's clock). */
async function liveLeases(driver: StorageDriver, now: number, except?: string): Promise<Map<string, Date>> {
  const live = new Map<string, Date>();
  for (const id of await driver.list(GC_LEASES_ROOT)) {
    if (id === except || !RUN_ID_RE.test(id)) continue;
    let modifiedAt: Date;
    try {
      modifiedAt = (await driver.stat(gcLeaseKey(id))).modifiedAt;
    } catch (err) {
      if (isNotFound(err)) continue;
      throw err;
    }
    if (modifiedAt.getTime() >= now - LEASE_STALE_MS && !(await diedOnThisHost(driver, id))) live.set(id, modifiedAt);
    else await driver.delete(gcLeaseKey(id));
  }
  return live;
}

/** A run of this host whose process is gone (killed): its lease need not age out. */
async function diedOnThisHost(driver: StorageDriver, id: string): Promise<boolean> {
  let holder: { host?: string; pid?: number };
  try {
    holder = JSON.parse((await driver.getContent(gcLeaseKey(id))).toString('utf8')) as typeof holder;
  } catch {
    return false;
  }
  if (holder.host !== hostname() || typeof holder.pid !== 'number' || holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export class GcLease {
  private constructor(
    private readonly driver: StorageDriver,
    readonly id: string,
    /** When the run began, on storage's clock (the lease's own modification time). */
    readonly startedAt: Date,
    private readonly renewal: NodeJS.Timeout,
  ) {}

  /** Takes the lease, or throws GcBusyError. */
  static async acquire(driver: StorageDriver): Promise<GcLease> {
    const id = randomUUID();
    const key = gcLeaseKey(id);
    const content = () => JSON.stringify({ host: hostname(), pid: process.pid, renewedAt: new Date().toISOString() });
    await driver.putContent(key, content());
    // Stamped as writers stamp what they retain (touch), so the two compare exactly: on a
    // filesystem a new file's time is the kernel's coarse clock, a touch the precise one.
    await driver.touch(key);
    const startedAt = (await driver.stat(key)).modifiedAt;
    const others = await liveLeases(driver, startedAt.getTime(), id);
    if (others.size > 0) {
      await driver.delete(key);
      throw new GcBusyError(new Date(Math.min(...[...others.values()].map((d) => d.getTime()))));
    }
    const renewal = setInterval(() => void driver.putContent(key, content()).catch(() => {}), LEASE_RENEW_MS);
    renewal.unref();
    return new GcLease(driver, id, startedAt, renewal);
  }

  async release(): Promise<void> {
    clearInterval(this.renewal);
    await this.driver.delete(gcLeaseKey(this.id));
  }
}

/**
 * Puts back what dead runs left aside (a collection killed between setting an object aside and
 * judging it). The server does this at start-up, every collection before it marks.
 */
export async function recoverAbandonedRuns(driver: StorageDriver, self?: string): Promise<string[]> {
  const live = await liveLeases(driver, Date.now(), self);
  if (self) live.set(self, new Date());
  return recoverAside(driver, new Set(live.keys()));
}
