// `stowage reindex`: makes the database say what storage holds, storage being the truth about
// what can be served. Every repository storage holds is imported again (storage/metadata/
// import.ts: new manifests recorded, tags moved to where storage points them); then what the
// database has and storage does not (a manifest or tag deleted behind its back, a storage
// restored from an older backup) is removed from it, and a listed manifest storage can no longer
// serve (blobs gone) is unlisted. One repository at a time, so memory follows the largest
// repository, not the registry.
//
// Safe beside a running server: anything is removed only after storage is read again and still
// lacks it, and a push writes storage before the database (storage/manifests.ts), so a push
// that lands meanwhile is never undone. Pending rows (pushes in flight) are left to
// settlePending.
import type { RegistryStorage } from '../registry.js';
import type { MetadataStore } from './metadata-store.js';
import { BlobPresence } from './blob-presence.js';
import { IMPORTED_KEY, forEachConcurrently, importRepository, settlePending, type ImportReport, type RepositoryImport } from './import.js';

export interface ReindexOptions {
  /**
   * Pull-through cache repositories: their manifests may lawfully lack blobs not fetched yet, so
   * a listed one is not unlisted for that.
   */
  cachedRepository?: (name: string) => boolean;
  /** Repositories imported at once (default 8). */
  concurrency?: number;
}

export interface ReindexReport extends ImportReport {
  /** What was taken out of the database: "manifest <repo>@<digest>: why", "tag <repo>:<tag>", "repository <repo>". */
  removed: string[];
  /** Stale pending rows settled (pushes that died). */
  settled: number;
  ms: number;
}

export async function reindex(storage: RegistryStorage, metadata: MetadataStore, options: ReindexOptions = {}): Promise<ReindexReport> {
  const started = performance.now();
  const report: ReindexReport = { repositories: 0, manifests: 0, tags: 0, skipped: [], removed: [], settled: 0, ms: 0 };
  const presence = new BlobPresence(storage);
  const names = await storage.catalog.freshRepositories();
  const stored = new Set(names);
  await forEachConcurrently(names, options.concurrency ?? 8, async (name) => {
    const imported = await importRepository(storage, metadata, name, presence);
    report.repositories++;
    report.manifests += imported.manifests;
    report.tags += imported.tagsRecorded;
    for (const [digest, why] of imported.skipped) report.skipped.push(`${name}@${digest}: ${why}`);
    await prune(storage, metadata, name, imported, options, report);
  });
  // Repositories only the database knows, a page at a time (deleting behind the page is safe:
  // the next page starts after its last name).
  let last: string | undefined;
  for (;;) {
    const page = await metadata.listRepositories({ last, n: 1000 });
    for (const name of page.items) {
      if (stored.has(name)) continue;
      const nothing: RepositoryImport = { revisions: [], manifests: 0, skipped: new Map(), tags: new Map(), tagsRecorded: 0 };
      await prune(storage, metadata, name, nothing, options, report);
      if (!(await storage.catalog.existsInStorage(name)) && (await metadata.deleteRepository(name))) report.removed.push(`repository ${name}`);
    }
    if (!page.more) break;
    last = page.items.at(-1);
  }
  report.settled = await settlePending(storage, metadata);
  report.ms = Math.round(performance.now() - started);
  await metadata.setMeta(
    IMPORTED_KEY,
    JSON.stringify({ at: new Date().toISOString(), by: 'reindex', ...report, skipped: report.skipped.length, removed: report.removed.length }),
  );
  report.removed.sort();
  report.skipped.sort();
  return report;
}

/** Removes from the database what storage, read again now, does not hold for this repository. */
async function prune(
  storage: RegistryStorage,
  metadata: MetadataStore,
  name: string,
  imported: RepositoryImport,
  options: ReindexOptions,
  report: ReindexReport,
): Promise<void> {
  const cached = options.cachedRepository?.(name) ?? false;
  // A listed manifest storage cannot serve is unlisted below, except in a pull-through cache.
  const unlisted = (digest: string) => !cached && imported.skipped.has(digest);
  for (const [tag, digest] of await metadata.tagTargets(name)) {
    if (imported.tags.get(tag) === digest && !unlisted(digest)) continue;
    // Storage has no such tag, points it elsewhere, or at a manifest that cannot be listed:
    // read again (a push may have moved it meanwhile), then point it where storage does, or drop it.
    const now = await storage.manifests.storedTagTarget(name, tag);
    if (now === digest && !unlisted(digest)) continue;
    if (now !== undefined && now !== digest && (await metadata.setTag(name, tag, now, Date.now()))) continue;
    await metadata.deleteTag(name, tag);
    report.removed.push(`tag ${name}:${tag}`);
  }
  const revisions = new Set(imported.revisions);
  for (const manifest of await metadata.manifestGraph(name)) {
    if (manifest.state !== 'ready') continue;
    let why: string | undefined;
    if (!revisions.has(manifest.digest)) {
      // Read again: a push may have written it since the listing (an unreadable link is there too).
      const there = await storage.manifests.storedRevision(name, manifest.digest).then(
        (revision) => revision !== undefined,
        () => true,
      );
      if (!there) why = 'not in storage';
    } else if (!cached) {
      why = imported.skipped.get(manifest.digest);
    }
    if (why === undefined) continue;
    await metadata.deleteManifest(name, manifest.digest);
    report.removed.push(`manifest ${name}@${manifest.digest}: ${why}`);
  }
}
