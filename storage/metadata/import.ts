// Fills the metadata database from what storage holds: on the first start over a data directory
// (or bucket) an earlier stowage or a registry:2 wrote, and from `stowage reindex`
// (storage/metadata/reindex.ts). Each manifest goes in as a push does: recorded pending, its
// dependencies retained (storage/liveness.ts), then ready; one whose blobs are missing stays out,
// so an import never lists a manifest it cannot serve.
import type { RegistryStorage } from '../registry.js';
import { RegistryError } from '../../errors/registry-error.js';
import { retainAll } from '../liveness.js';
import { blobDataKey, manifestRevisionKey, tagCurrentLinkKey } from '../layout.js';
import { parseManifest } from '../manifest-format.js';
import { mediaTypeOfBytes } from '../revision-link.js';
import { manifestFacts } from './facts.js';
import type { ManifestNode, MetadataStore } from './metadata-store.js';
import { BlobPresence } from './blob-presence.js';

export interface ImportReport {
  repositories: number;
  manifests: number;
  tags: number;
  /** Manifests left out: "<repository>@<digest>: why". */
  skipped: string[];
}

/** The meta key that says this database has seen all of its storage once. */
export const IMPORTED_KEY = 'imported';

/** Pending rows older than this belong to pushes that died. */
export const PENDING_STALE_MS = 15 * 60 * 1000;

/** Imports storage into a database that has never seen it; settles pushes that died pending. */
export async function ensureImported(storage: RegistryStorage, metadata: MetadataStore): Promise<ImportReport | undefined> {
  let report: ImportReport | undefined;
  if ((await metadata.getMeta(IMPORTED_KEY)) === undefined) {
    report = await importStorage(storage, metadata);
    await metadata.setMeta(IMPORTED_KEY, JSON.stringify({ at: new Date().toISOString(), ...report, skipped: report.skipped.length }));
  }
  await settlePending(storage, metadata);
  return report;
}

/** Records every repository, manifest and tag storage holds (what the database has already stays). */
export async function importStorage(storage: RegistryStorage, metadata: MetadataStore, concurrency = 8): Promise<ImportReport> {
  const report: ImportReport = { repositories: 0, manifests: 0, tags: 0, skipped: [] };
  const names = await storage.catalog.freshRepositories();
  await forEachConcurrently(names, concurrency, async (name) => {
    const imported = await importRepository(storage, metadata, name);
    report.repositories++;
    report.manifests += imported.manifests;
    report.tags += imported.tagsRecorded;
    for (const [digest, why] of imported.skipped) report.skipped.push(`${name}@${digest}: ${why}`);
  });
  return report;
}

/** What importing one repository found in storage and recorded. */
export interface RepositoryImport {
  /** Digests of the manifest revisions storage holds. */
  revisions: string[];
  /** Manifests recorded ready (or already ready). */
  manifests: number;
  /** Those left out, digest -> why. */
  skipped: Map<string, string>;
  /** Tags as storage holds them, tag -> digest. */
  tags: Map<string, string>;
  /** Tags the database now points where storage does. */
  tagsRecorded: number;
}

/**
 * Records one repository's manifests and tags as storage holds them (tags moved to where storage
 * points). Manifests the database lists already are only looked at: their rows are references no
 * collection takes anything from, so nothing needs retaining, and a database that agrees with
 * storage costs no writes.
 */
export async function importRepository(
  storage: RegistryStorage,
  metadata: MetadataStore,
  name: string,
  presence = new BlobPresence(storage),
): Promise<RepositoryImport> {
  await metadata.ensureRepository(name);
  const revisions = await storage.manifests.listRevisions(name);
  const result: RepositoryImport = { revisions, manifests: 0, skipped: new Map(), tags: new Map(), tagsRecorded: 0 };
  const recorded = new Map((await metadata.manifestGraph(name)).filter((m) => m.state === 'ready').map((m) => [m.digest, m]));
  // What ends up listed: recorded rows still complete in storage, and what this import records.
  const listed = new Set(revisions.filter((digest) => recorded.has(digest)));
  // Children before the indexes that list them, so an index finds them recorded.
  const pending = new Set(revisions);
  const visitAll = async (children: string[], depth: number) => {
    if (depth < 8) for (const child of children) await visit(child, depth + 1);
  };
  const visit = async (digest: string, depth: number): Promise<void> => {
    if (!pending.delete(digest)) return;
    const known = recorded.get(digest);
    let outcome: true | string;
    if (known) {
      await visitAll(known.children, depth);
      outcome = await stillComplete(known, listed, presence);
    } else {
      outcome = await importManifest(storage, metadata, name, digest, (children) => visitAll(children, depth));
    }
    if (outcome === true) {
      result.manifests++;
      listed.add(digest);
    } else {
      result.skipped.set(digest, outcome);
      listed.delete(digest);
    }
  };
  for (const digest of revisions) await visit(digest, 0);
  result.tags = await storage.manifests.storedTagTargets(name);
  const known = await metadata.tagTargets(name);
  for (const [tag, digest] of result.tags) {
    // A tag of a manifest that cannot be listed is not listed either.
    if (!listed.has(digest)) continue;
    if (known.get(tag) === digest || (await metadata.setTag(name, tag, digest, await modifiedAt(storage, tagCurrentLinkKey(name, tag))))) {
      result.tagsRecorded++;
    }
  }
  return result;
}

/** Whether a manifest the database lists still has its bytes, its blobs and its children; or why not. */
async function stillComplete(manifest: ManifestNode, listed: Set<string>, presence: BlobPresence): Promise<true | string> {
  const gone = await presence.missing([manifest.digest, ...manifest.blobs]);
  if (gone.length > 0) return `${gone.length} blob(s) missing`;
  const missingChildren = manifest.children.filter((child) => !listed.has(child));
  return missingChildren.length > 0 ? `${missingChildren.length} child manifest(s) missing` : true;
}

/** Runs fn on every item, at most `concurrency` at once. */
export async function forEachConcurrently<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** Records one stored manifest; true, or why it was left out. */
export async function importManifest(
  storage: RegistryStorage,
  metadata: MetadataStore,
  name: string,
  digest: string,
  beforeRecording: (children: string[]) => Promise<void> = async () => {},
): Promise<true | string> {
  const revision = await storage.manifests.storedRevision(name, digest).catch((err: unknown) => {
    if (err instanceof SyntaxError) return undefined;
    throw err;
  });
  if (!revision) return 'revision link unreadable';
  let bytes: Buffer;
  try {
    bytes = await storage.blobs.readGlobal(digest);
  } catch {
    return 'manifest bytes missing';
  }
  let parsed;
  try {
    // A bare-digest link (registry:2's) names no media type: the bytes do, as Distribution reads them.
    parsed = parseManifest(bytes, revision.mediaType ?? mediaTypeOfBytes(bytes));
  } catch (err) {
    if (err instanceof RegistryError) return `not a manifest stowage serves (${err.message})`;
    throw err;
  }
  await beforeRecording(parsed.manifests.map((m) => m.digest));
  const facts = await manifestFacts(digest, bytes.length, parsed, async (d) => {
    const size = await storage.blobs.statGlobal(d);
    return size !== undefined && size <= 256 * 1024 ? storage.blobs.readGlobal(d) : undefined;
  });
  const at = await modifiedAt(storage, manifestRevisionKey(name, digest));
  const recorded = await metadata.beginManifest(name, facts, at);
  // Reference, then retain: what it names must be there now, or it stays out.
  const keys = [blobDataKey(digest), manifestRevisionKey(name, digest), ...parsed.blobs.map((b) => blobDataKey(b.digest))];
  const gone = await retainAll(storage.driver, keys);
  const missingChildren = [];
  for (const child of parsed.manifests) if (!(await metadata.hasManifest(name, child.digest))) missingChildren.push(child.digest);
  if (gone.length > 0 || missingChildren.length > 0) {
    if (recorded.created) await metadata.abortManifest(recorded.id);
    return gone.length > 0 ? `${gone.length} blob(s) missing` : `${missingChildren.length} child manifest(s) missing`;
  }
  if (!(await metadata.commitManifest(name, recorded.id, { at }))) return 'collected meanwhile';
  return true;
}

/**
 * Pushes that died between recording a manifest and finishing (pending for PENDING_STALE_MS):
 * each is imported again from storage (listed if storage has all of it, dropped if not). Until
 * then such a row only keeps what it names from collection; it is never listed.
 */
export async function settlePending(storage: RegistryStorage, metadata: MetadataStore): Promise<number> {
  // Only old ones: a CLI command beside the server (or another replica) must not settle a push
  // that is still running.
  const stale = await metadata.pendingBefore(Date.now() - PENDING_STALE_MS);
  for (const row of stale) {
    await metadata.abortManifest(row.id);
    if ((await importManifest(storage, metadata, row.repository, row.digest)) !== true) continue;
    for (const tag of await storage.manifests.storedTags(row.repository)) {
      const target = await storage.manifests.resolveTag(row.repository, tag).catch(() => undefined);
      if (target === row.digest) await metadata.setTag(row.repository, tag, row.digest, Date.now());
    }
  }
  return stale.length;
}

async function modifiedAt(storage: RegistryStorage, key: string): Promise<number> {
  try {
    return (await storage.driver.stat(key)).modifiedAt.getTime();
  } catch {
    return Date.now();
  }
}
