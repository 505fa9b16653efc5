// Garbage collection: mark every blob reachable from the manifests we keep (config, layers,
// index children, referrers, and the manifests' own bytes), then delete the other blobs of the
// content store. It runs while the server serves, so anything written within the grace period
// (a blob just uploaded, a layer link just made by a mount, a manifest revision just pushed) is
// kept: a push in progress cannot lose its layers.
import type { RegistryStorage } from './registry.js';
import { RegistryError, isNotFound } from './errors.js';
import { parseManifest } from './manifest-format.js';
import { blobDataKey, blobDirKey, blobListingPrefix, layerLinkKey, layerLinksPrefix, manifestRevisionKey } from './layout.js';

export interface GcOptions {
  /** Report what would be deleted without deleting. */
  dryRun?: boolean;
  /** Keep only manifests reachable from a tag (and delete the untagged revisions). */
  deleteUntagged?: boolean;
  /** Anything modified more recently than this many ms ago is kept. */
  gracePeriodMs?: number;
  now?: Date;
}

export interface GcReport {
  repositories: number;
  manifestsKept: number;
  manifestsDeleted: string[];
  blobsKept: number;
  blobsDeleted: string[];
  bytesFreed: number;
  dryRun: boolean;
}

export const DEFAULT_GC_GRACE_MS = 60 * 60 * 1000;

export async function collectGarbage(storage: RegistryStorage, options: GcOptions = {}): Promise<GcReport> {
  const driver = storage.driver;
  const grace = options.gracePeriodMs ?? DEFAULT_GC_GRACE_MS;
  const cutoff = (options.now ?? new Date()).getTime() - grace;
  const dryRun = options.dryRun ?? false;
  const isRecent = async (key: string): Promise<boolean> => {
    try {
      return (await driver.stat(key)).modifiedAt.getTime() > cutoff;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  };

  storage.cache.clear();
  const marked = new Set<string>();
  const report: GcReport = { repositories: 0, manifestsKept: 0, manifestsDeleted: [], blobsKept: 0, blobsDeleted: [], bytesFreed: 0, dryRun };

  for (const name of await storage.catalog.repositories()) {
    report.repositories++;
    const revisions = new Set(await storage.manifests.listRevisions(name));
    const roots = new Set<string>();
    for (const tag of await storage.manifests.listTags(name)) {
      const digest = await storage.manifests.resolveTag(name, tag).catch(() => undefined);
      if (digest) roots.add(digest);
    }
    for (const digest of revisions) {
      if (!options.deleteUntagged || (await isRecent(manifestRevisionKey(name, digest)))) roots.add(digest);
    }

    // Closure over index children and referrers, marking every blob on the way.
    const kept = new Set<string>();
    const pending = [...roots];
    while (pending.length > 0) {
      const digest = pending.pop()!;
      if (kept.has(digest) || !revisions.has(digest)) continue;
      kept.add(digest);
      marked.add(digest);
      let manifest;
      try {
        manifest = await storage.manifests.get(name, digest);
      } catch (err) {
        if (err instanceof RegistryError && err.code === 'MANIFEST_UNKNOWN') continue;
        throw err;
      }
      try {
        const parsed = parseManifest(manifest.bytes, manifest.mediaType);
        for (const blob of parsed.blobs) marked.add(blob.digest);
        for (const child of parsed.manifests) pending.push(child.digest);
      } catch (err) {
        // A manifest we cannot parse keeps its own bytes; it names nothing we can follow.
        if (!(err instanceof RegistryError)) throw err;
      }
      for (const referrer of await storage.manifests.referrers(name, digest)) pending.push(referrer.digest);
    }
    report.manifestsKept += kept.size;

    for (const digest of revisions) {
      if (kept.has(digest)) continue;
      report.manifestsDeleted.push(`${name}@${digest}`);
      if (!dryRun) await storage.manifests.delete(name, digest);
    }

    // A layer linked within the grace period belongs to a push (or mount) still in progress.
    for (const algorithm of await driver.list(layerLinksPrefix(name))) {
      for (const hex of await driver.list(layerLinksPrefix(name, algorithm))) {
        const digest = `${algorithm}:${hex}`;
        if (!marked.has(digest) && (await isRecent(layerLinkKey(name, digest)))) marked.add(digest);
      }
    }
  }

  for (const algorithm of await driver.list(blobListingPrefix())) {
    for (const shard of await driver.list(blobListingPrefix(algorithm))) {
      for (const hex of await driver.list(blobListingPrefix(algorithm, shard))) {
        const digest = `${algorithm}:${hex}`;
        if (marked.has(digest)) {
          report.blobsKept++;
          continue;
        }
        let info;
        try {
          info = await driver.stat(blobDataKey(digest));
        } catch (err) {
          if (isNotFound(err) || err instanceof RegistryError) continue;
          throw err;
        }
        if (info.modifiedAt.getTime() > cutoff) {
          report.blobsKept++;
          continue;
        }
        report.blobsDeleted.push(digest);
        report.bytesFreed += info.size;
        if (!dryRun) await driver.delete(blobDirKey(digest));
      }
    }
  }
  storage.cache.clear();
  return report;
}
