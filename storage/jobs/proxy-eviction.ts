// The storage half of the pull-through cache's eviction (proxy/cache-cap.ts decides what goes).
// An eviction pass deletes blobs as garbage collection does (storage/jobs/gc.ts), under the same
// lease (storage/jobs/gc-lease.ts: one pass or collection at a time, GcBusyError otherwise) and
// only through deleteUnlessUsed (storage/liveness.ts). What it may delete:
//   - only blobs the policy found unreferenced by reading storage itself (the listings below,
//     never a cache) after the pass's start T0 (storage's clock: the lease's modification time);
//   - only what nobody used since cutoff = T0 - driver.clockMarginMs (no grace period: the pass
//     runs because the cache is full, and a push in progress is protected by its retain);
//   - only by setting it aside and rechecking, so a local push that links a blob after the scan
//     retains it and keeps it (or fails before its 201).
// Manifests, tags and layer links go through the stores' public deletes, as a client's DELETE.
import type { RegistryStorage } from '../registry.js';
import { isNotFound } from '../errors.js';
import { blobDataKey, layerLinksPrefix, manifestRevisionKey } from '../layout.js';
import { deleteUnlessUsed, dropAside } from '../liveness.js';
import { GcLease } from './gc-lease.js';

export { GcBusyError } from './gc-lease.js';

/** One eviction pass, valid inside runProxyEviction's callback. */
export class ProxyEvictionPass {
  constructor(
    private readonly storage: RegistryStorage,
    /** The run the pass sets blobs aside under (its lease's id). */
    private readonly run: string,
    /** Anything used after this (ms since the epoch, storage's clock) is kept. */
    private readonly cutoff: number,
  ) {}

  /** Every repository name, from a walk that starts now. */
  repositories(): Promise<string[]> {
    return this.storage.catalog.freshRepositories();
  }

  /** The digests a repository links as layers (it may serve them), read from storage. */
  async layerLinks(name: string): Promise<string[]> {
    const { driver } = this.storage;
    const digests: string[] = [];
    for (const algorithm of await driver.list(layerLinksPrefix(name))) {
      for (const hex of await driver.list(layerLinksPrefix(name, algorithm))) digests.push(`${algorithm}:${hex}`);
    }
    return digests;
  }

  /** The manifest revisions a repository holds, read from storage. */
  revisions(name: string): Promise<string[]> {
    return this.storage.manifests.listRevisions(name);
  }

  /** When a client last pulled the manifest, as recorded, else when it was cached; 0 when neither is known. */
  async lastPulled(name: string, digest: string): Promise<number> {
    const recorded = await this.storage.proxyRecords.readPulled(name, digest);
    if (recorded !== undefined) return recorded;
    try {
      return (await this.storage.driver.stat(manifestRevisionKey(name, digest))).modifiedAt.getTime();
    } catch (err) {
      if (isNotFound(err)) return 0;
      throw err;
    }
  }

  /**
   * Deletes the blob's bytes from the content store unless someone used it since the pass began;
   * true when they went. The caller has checked that no repository it keeps links the blob.
   */
  async deleteBlob(digest: string): Promise<boolean> {
    const metadata = this.storage.metadata;
    const referenced = metadata ? () => metadata.isReferenced(digest) : undefined;
    return (await deleteUnlessUsed(this.storage.driver, this.run, blobDataKey(digest), this.cutoff, { referenced })) === 'deleted';
  }
}

/**
 * Runs one eviction pass under the collection lease; throws GcBusyError while a collection (or
 * another pass) holds it.
 */
export async function runProxyEviction<T>(storage: RegistryStorage, work: (pass: ProxyEvictionPass) => Promise<T>): Promise<T> {
  const { driver } = storage;
  const lease = await GcLease.acquire(driver);
  try {
    const result = await work(new ProxyEvictionPass(storage, lease.id, lease.startedAt.getTime() - driver.clockMarginMs));
    // Whatever the pass set aside went back or was deleted: only its empty folder is left. (A
    // pass that failed keeps it, and what is in it: recoverAside puts that back later.)
    await dropAside(driver, lease.id);
    return result;
  } finally {
    await lease.release();
  }
}
