// Garbage collection: mark every blob reachable from the manifests we keep (config, layers,
// index children, referrers, and the manifests' own bytes), then delete the other blobs of the
// content store (and, with deleteUntagged, the manifests no tag reaches).
//
// It runs while the server serves, on any driver, from the server's schedule or from
// `stowage gc` in another process, one run at a time (storage/jobs/gc-lease.ts). What it may delete:
//   - only what its mark phase did not reach, reading storage itself (never a cache) after the
//     run's start T0 (storage's clock: the lease's modification time);
//   - only what nobody used since cutoff = T0 - max(grace, driver.clockMarginMs): a blob uploaded, a
//     layer linked, a manifest pushed within the grace period is kept however unreferenced;
//   - only through deleteUnlessUsed (storage/liveness.ts): set aside, recheck, then delete, so a
//     push that reuses an object while the run goes on keeps it (or fails before its 201).
// A revision being written (its directory there, its link not yet) counts as just used.
// With a metadata database (storage/metadata/), the mark also takes every digest a manifest row
// (pending or ready) names, read after T0; a manifest row goes only in a transaction that finds
// it unreachable (MetadataStore.deleteIfUnreachable); and after setting a blob aside, the
// collection asks the database again whether a row references it (a push records its row before
// it retains), keeping it if so. Storage's own links stay in the mark too: a manifest the
// database does not know (a push killed before recording it, a database restored from an older
// backup) still keeps what it names.
// Tests: test/gc/gc.test.ts, test/gc/liveness.test.ts, test/gc/torture.test.ts, test/gc/crash-loop.test.ts.
import type { RegistryStorage } from '../registry.js';
import type { StorageDriver } from '../drivers/driver.js';
import { RegistryError } from '../../errors/registry-error.js';
import { isNotFound } from '../errors.js';
import { parseManifest } from '../manifest-format.js';
import { decodeRevision, mediaTypeOfBytes } from '../revision-link.js';
import { deleteUnlessUsed, dropAside, type LivenessHooks } from '../liveness.js';
import { GcLease, recoverAbandonedRuns } from './gc-lease.js';
import { crashPoint } from '../crash-points.js';
import {
  blobDataKey,
  blobListingPrefix,
  layerLinkKey,
  layerLinksPrefix,
  manifestRevisionKey,
  manifestRevisionsPrefix,
  referrerDigestFromEntry,
  referrerKey,
  referrersPrefix,
  tagCurrentLinkKey,
  tagsPrefix,
} from '../layout.js';
import { assertDigest, isValidTag } from '../grammar.js';
import { SYSTEM_ORIGIN, type AuditEntry, type AuditOrigin } from '../audit-log.js';

export { GcBusyError } from './gc-lease.js';

export interface GcOptions {
  /** Report what would be deleted without deleting. */
  dryRun?: boolean;
  /** Keep only manifests reachable from a tag (and delete the untagged revisions). */
  deleteUntagged?: boolean;
  /** Anything used more recently than this many ms before the run began is kept. */
  gracePeriodMs?: number;
  /** Pauses for the race tests. */
  hooks?: GcHooks;
  /** Who the audit log names for this run (default: the registry itself). */
  origin?: AuditOrigin;
}

export interface GcHooks extends LivenessHooks {
  /** After the mark phase, before anything is deleted. */
  afterMark?(): Promise<void>;
}

export interface GcReport {
  repositories: number;
  manifestsKept: number;
  manifestsDeleted: string[];
  blobsKept: number;
  blobsDeleted: string[];
  bytesFreed: number;
  /** Objects a push used while this run was deciding about them, and so kept. */
  keptInUse: number;
  /** Objects a killed run had left aside, put back before this one began. */
  recovered: number;
  /** Revisions whose manifest bytes could not be read: what they reference is unknown. */
  unreadable: string[];
  dryRun: boolean;
}

export const DEFAULT_GC_GRACE_MS = 60 * 60 * 1000;

/** Modification time in ms; undefined when absent. */
async function modifiedAt(driver: StorageDriver, key: string): Promise<number | undefined> {
  try {
    return (await driver.stat(key)).modifiedAt.getTime();
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

async function readText(driver: StorageDriver, key: string): Promise<string | undefined> {
  try {
    return (await driver.getContent(key)).toString('utf8').trim();
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

interface Revision {
  name: string;
  digest: string;
  subject?: string;
}

export async function collectGarbage(storage: RegistryStorage, options: GcOptions = {}): Promise<GcReport> {
  const driver = storage.driver;
  // Pull times and counts batched in memory go in first, so the database is current when judged.
  await storage.pulls?.flush();
  const lease = await GcLease.acquire(driver);
  // A real run is in the audit log, with its counts or its failure; a dry run changes nothing.
  const audit = (entry: Omit<AuditEntry, keyof AuditOrigin | 'action'>) => {
    if (!options.dryRun) storage.audit.record({ ...(options.origin ?? SYSTEM_ORIGIN), action: 'gc', ...entry });
  };
  try {
    const report = await collect(storage, lease, options);
    audit({
      detail:
        `${report.manifestsDeleted.length} manifests and ${report.blobsDeleted.length} blobs deleted, ${report.bytesFreed} bytes freed; ` +
        `${report.manifestsKept} manifests and ${report.blobsKept} blobs kept`,
    });
    return report;
  } catch (err) {
    audit({ result: 'error', detail: (err as Error).message });
    throw err;
  } finally {
    await lease.release();
  }
}

async function collect(storage: RegistryStorage, lease: GcLease, options: GcOptions): Promise<GcReport> {
  const driver = storage.driver;
  const dryRun = options.dryRun ?? false;
  const grace = Math.max(0, options.gracePeriodMs ?? DEFAULT_GC_GRACE_MS);
  const cutoff = lease.startedAt.getTime() - Math.max(grace, driver.clockMarginMs);
  const recent = (time: number | undefined) => time === undefined || time > cutoff;
  const report: GcReport = {
    repositories: 0,
    manifestsKept: 0,
    manifestsDeleted: [],
    blobsKept: 0,
    blobsDeleted: [],
    bytesFreed: 0,
    keptInUse: 0,
    recovered: 0,
    unreadable: [],
    dryRun,
  };
  if (!dryRun) report.recovered = (await recoverAbandonedRuns(driver, lease.id)).length;

  // Mark. Everything is read from storage after T0: a reference written before T0 - margin is
  // seen here; one written later is protected by its writer's retain.
  const marked = new Set<string>();
  const unreached: Revision[] = [];
  for (const name of await storage.catalog.freshRepositories()) {
    report.repositories++;
    const revisions = new Set<string>();
    const prefix = manifestRevisionsPrefix(name);
    for (const algorithm of await driver.list(prefix)) {
      for (const hex of await driver.list(`${prefix}/${algorithm}`)) revisions.add(`${algorithm}:${hex}`);
    }
    const roots = new Set<string>();
    // Tags only matter to deleteUntagged: otherwise every revision is a root anyway (and a
    // repository with 100,000 tags costs 100,000 reads).
    if (options.deleteUntagged) {
      for (const tag of await driver.list(tagsPrefix(name))) {
        if (!isValidTag(tag)) continue;
        const digest = await readText(driver, tagCurrentLinkKey(name, tag));
        if (digest) roots.add(digest);
      }
    }
    for (const digest of revisions) {
      // A revision whose link is not there yet is being written: as recent as it gets.
      if (!options.deleteUntagged || recent(await modifiedAt(driver, manifestRevisionKey(name, digest)))) roots.add(digest);
    }

    // Closure over index children and referrers, marking every blob on the way.
    const kept = new Map<string, string | undefined>();
    const pending = [...roots];
    while (pending.length > 0) {
      const digest = pending.pop()!;
      if (kept.has(digest) || !revisions.has(digest)) continue;
      const manifest = await readManifest(driver, name, digest);
      kept.set(digest, manifest?.subject);
      marked.add(digest);
      if (!manifest) {
        // A revision still being written has no link yet; one with a link but no bytes is damage.
        if ((await modifiedAt(driver, manifestRevisionKey(name, digest))) !== undefined) report.unreadable.push(`${name}@${digest}`);
        continue;
      }
      for (const blob of manifest.blobs) marked.add(blob);
      pending.push(...manifest.children);
      for (const entry of await driver.list(referrersPrefix(name, digest))) pending.push(referrerDigestFromEntry(entry));
    }
    report.manifestsKept += kept.size;
    for (const digest of revisions) {
      if (kept.has(digest)) continue;
      unreached.push({ name, digest, subject: (await readManifest(driver, name, digest))?.subject });
    }

    // A layer linked within the grace period belongs to a push (or mount) still in progress.
    for (const algorithm of await driver.list(layerLinksPrefix(name))) {
      for (const hex of await driver.list(layerLinksPrefix(name, algorithm))) {
        const digest = `${algorithm}:${hex}`;
        if (!marked.has(digest) && recent(await modifiedAt(driver, layerLinkKey(name, digest)))) marked.add(digest);
      }
    }
  }
  const metadata = storage.metadata;
  crashPoint('gc-marked');
  await options.hooks?.afterMark?.();

  // Sweep manifests no tag reaches (deleteUntagged only: otherwise every revision is a root).
  for (const revision of unreached) {
    // The database first: its row goes only if, in that transaction, nothing reaches it.
    if (metadata && !dryRun && (await metadata.hasManifestRow(revision.name, revision.digest))) {
      if (!(await metadata.deleteIfUnreachable(revision.name, revision.digest, cutoff))) {
        report.keptInUse++;
        marked.add(revision.digest);
        continue;
      }
      crashPoint('gc-manifest-row-deleted');
    }
    const outcome = await deleteUnlessUsed(driver, lease.id, manifestRevisionKey(revision.name, revision.digest), cutoff, {
      dryRun,
      hooks: options.hooks,
      referenced: metadata ? () => metadata.hasManifestRow(revision.name, revision.digest) : undefined,
    });
    if (outcome === 'kept') {
      report.keptInUse++;
      // Kept because a push used it: so are its bytes, whatever the mark phase said.
      marked.add(revision.digest);
      continue;
    }
    if (outcome !== 'deleted') continue;
    report.manifestsDeleted.push(`${revision.name}@${revision.digest}`);
    if (revision.subject) {
      await deleteUnlessUsed(driver, lease.id, referrerKey(revision.name, revision.subject, revision.digest), cutoff, {
        dryRun,
        hooks: options.hooks,
      });
    }
  }

  // What the database's rows name, read after its unreachable manifests went (so their blobs can
  // go in this run) and still after T0.
  if (metadata) for (const digest of await metadata.referencedDigests()) marked.add(digest);

  // Sweep the content store.
  for (const algorithm of await driver.list(blobListingPrefix())) {
    for (const shard of await driver.list(blobListingPrefix(algorithm))) {
      for (const hex of await driver.list(blobListingPrefix(algorithm, shard))) {
        const digest = `${algorithm}:${hex}`;
        let key: string;
        try {
          key = blobDataKey(digest);
        } catch (err) {
          if (err instanceof RegistryError) continue;
          throw err;
        }
        if (marked.has(digest)) {
          report.blobsKept++;
          continue;
        }
        let size: number;
        try {
          const info = await driver.stat(key);
          if (info.modifiedAt.getTime() > cutoff) {
            report.blobsKept++;
            continue;
          }
          size = info.size;
        } catch (err) {
          if (isNotFound(err)) continue;
          throw err;
        }
        const outcome = await deleteUnlessUsed(driver, lease.id, key, cutoff, {
          dryRun,
          hooks: options.hooks,
          referenced: metadata ? () => metadata.isReferenced(digest) : undefined,
        });
        if (outcome === 'kept') {
          report.keptInUse++;
          report.blobsKept++;
        } else if (outcome === 'deleted') {
          report.blobsDeleted.push(digest);
          report.bytesFreed += size;
        }
      }
    }
  }
  if (!dryRun) await dropAside(driver, lease.id);
  storage.cache.clear();
  return report;
}

interface ManifestLinks {
  blobs: string[];
  children: string[];
  subject?: string;
}

/** What a stored manifest references; undefined when its bytes or revision cannot be read. */
async function readManifest(driver: StorageDriver, name: string, digest: string): Promise<ManifestLinks | undefined> {
  let mediaType: string;
  let bytes: Buffer;
  try {
    assertDigest(digest);
    const revision = decodeRevision(await driver.getContent(manifestRevisionKey(name, digest)));
    bytes = await driver.getContent(blobDataKey(digest));
    // A registry:2 link is the bare digest: the bytes say the media type (bytes that are not JSON
    // fail to parse below, as any unparseable manifest does).
    mediaType = revision.mediaType ?? mediaTypeOfBytes(bytes) ?? '';
  } catch (err) {
    if (isNotFound(err) || err instanceof RegistryError || err instanceof SyntaxError) return undefined;
    throw err;
  }
  try {
    const parsed = parseManifest(bytes, mediaType);
    return { blobs: parsed.blobs.map((b) => b.digest), children: parsed.manifests.map((m) => m.digest), subject: parsed.subject?.digest };
  } catch (err) {
    // A manifest we cannot parse keeps its own bytes; it names nothing we can follow.
    if (err instanceof RegistryError) return { blobs: [], children: [] };
    throw err;
  }
}
