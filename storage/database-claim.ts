// One metadata database per storage. Processes that share storage (replicas on one S3 bucket)
// must share their database too: one with a database of its own would list, collect and cache
// from what only it recorded. So a registry:2-style config with storage.s3 starts as it is, on
// an SQLite file on local disk, but a second process on the same bucket with another database
// (its own SQLite file, typically) is refused at start-up, told to use PostgreSQL.
//
// Each process on shared storage (StorageDriver.shared) writes a claim, _database/claims/<uuid>:
// the id of its database (MetadataStore.databaseId), its kind and location, host and pid. It
// renews the claim every CLAIM_RENEW_MS while it runs and deletes it when it closes. At start it
// writes its claim, then lists the others: of two that start together at least one sees the
// other (write, then read), as with garbage collection leases (storage/jobs/gc-lease.ts). A claim
// not renewed for CLAIM_STALE_MS, or whose process on this host is gone, is stale and deleted.
// Claims of the same database never conflict: `stowage gc` beside the server on its SQLite file,
// a container restarted on the same volume, replicas on one PostgreSQL database.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { StorageDriver } from './drivers/driver.js';
import { isNotFound } from './errors.js';
import { DATABASE_CLAIMS_ROOT, databaseClaimKey } from './layout.js';
import { redactDatabaseUrl, type Dialect } from './metadata/database.js';
import type { MetadataStore } from './metadata/metadata-store.js';

export const CLAIM_RENEW_MS = 10_000;
/** Three renewals missed, and S3's clock margin. */
export const CLAIM_STALE_MS = 35_000;

const CLAIM_ID_RE = /^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/;

export interface ClaimRecord {
  /** The database's id (stowage_meta). */
  database: string;
  kind: Dialect;
  /** The SQLite file, or the PostgreSQL URL without its password. */
  location: string;
  host: string;
  pid: number;
  startedAt: string;
}

/** Another process uses the storage with another metadata database. */
export class DatabaseConflictError extends Error {
  constructor(
    message: string,
    readonly other: ClaimRecord,
  ) {
    super(message);
    this.name = 'DatabaseConflictError';
  }
}

export class DatabaseClaim {
  private constructor(
    private readonly driver: StorageDriver,
    private readonly key: string,
    private readonly renewal: NodeJS.Timeout,
  ) {}

  /** Claims the storage for this process and its database, or throws DatabaseConflictError. */
  static async acquire(driver: StorageDriver, metadata: MetadataStore): Promise<DatabaseClaim> {
    const { dialect, location } = metadata.database;
    const mine: ClaimRecord = {
      database: await metadata.databaseId(),
      kind: dialect,
      location: dialect === 'sqlite' ? location.target : redactDatabaseUrl(location.target),
      host: hostname(),
      pid: process.pid,
      startedAt: new Date().toISOString(),
    };
    const id = randomUUID();
    const key = databaseClaimKey(id);
    const content = JSON.stringify(mine);
    await driver.putContent(key, content);
    // Ages are measured on storage's clock: against the time it stamped on this claim.
    const now = (await driver.stat(key)).modifiedAt.getTime();
    for (const other of await driver.list(DATABASE_CLAIMS_ROOT)) {
      if (other === id || !CLAIM_ID_RE.test(other)) continue;
      const claim = await readClaim(driver, databaseClaimKey(other));
      if (!claim) continue;
      if (claim.modifiedAt < now - CLAIM_STALE_MS || processGone(claim.record)) {
        await driver.delete(databaseClaimKey(other));
        continue;
      }
      if (claim.record.database === mine.database) continue;
      await driver.delete(key);
      throw new DatabaseConflictError(conflictMessage(driver, mine, claim.record, now - claim.modifiedAt), claim.record);
    }
    const renewal = setInterval(() => void driver.putContent(key, content).catch(() => {}), CLAIM_RENEW_MS);
    renewal.unref();
    return new DatabaseClaim(driver, key, renewal);
  }

  /** Stops renewing and deletes the claim (a process that cannot reach storage leaves it to go stale). */
  async release(): Promise<void> {
    clearInterval(this.renewal);
    await this.driver.delete(this.key).catch(() => {});
  }
}

async function readClaim(driver: StorageDriver, key: string): Promise<{ record: ClaimRecord; modifiedAt: number } | undefined> {
  try {
    const modifiedAt = (await driver.stat(key)).modifiedAt.getTime();
    const record = JSON.parse((await driver.getContent(key)).toString('utf8')) as ClaimRecord;
    if (typeof record.database !== 'string') return undefined;
    return { record, modifiedAt };
  } catch (err) {
    // Deleted meanwhile (its process closed), or not a claim this version wrote.
    if (isNotFound(err) || err instanceof SyntaxError) return undefined;
    throw err;
  }
}

/** A claim of a process on this host that is no longer running (killed): it need not age out. */
function processGone(record: ClaimRecord): boolean {
  if (record.host !== hostname() || typeof record.pid !== 'number' || record.pid === process.pid) return false;
  try {
    process.kill(record.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function conflictMessage(driver: StorageDriver, mine: ClaimRecord, theirs: ClaimRecord, ageMs: number): string {
  const database =
    theirs.kind === 'sqlite' ? `its own embedded SQLite database (${theirs.location})` : `another PostgreSQL database (${theirs.location})`;
  const who = `host ${theirs.host}, pid ${theirs.pid}, seen ${Math.max(0, Math.round(ageMs / 1000))} s ago`;
  const advice =
    mine.kind === 'sqlite'
      ? 'An embedded SQLite database serves one host only: to run more than one process on shared storage, give every one the same ' +
        'PostgreSQL database (stowage.database.url, or REGISTRY_STOWAGE_DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/DB).'
      : theirs.kind === 'sqlite'
        ? 'Stop that process, or give it this PostgreSQL database too.'
        : 'Processes on one storage must share one database: give every one the same stowage.database.url.';
  return (
    `this ${driver.kind} storage is in use by another stowage process with ${database} (${who}). ${advice} ` +
    `If that process is gone, its claim lapses ${CLAIM_STALE_MS / 1000} s after it was last renewed.`
  );
}
