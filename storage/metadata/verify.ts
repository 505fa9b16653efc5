// `stowage reindex --verify`: every difference between what the database says and what storage
// holds, changing neither: a repository, manifest or tag on one side only, a tag pointing at
// different manifests, a listed manifest whose bytes, blobs or child manifests are gone. Walks the
// repositories of both sides in name order, a few at a time, holding one repository's rows at
// once, so memory follows the largest repository, not the registry.
//
// Beside a running server a push in flight can show as a difference for a moment (storage is
// written before the database); a second run tells a lasting one from that.
import type { RegistryStorage } from '../registry.js';
import { RegistryError } from '../../errors/registry-error.js';
import { parseManifest } from '../manifest-format.js';
import { mediaTypeOfBytes } from '../revision-link.js';
import type { ManifestNode, MetadataStore } from './metadata-store.js';
import { BlobPresence } from './blob-presence.js';
import { IMPORTED_KEY, PENDING_STALE_MS } from './import.js';

export type Side = 'storage' | 'database';

export type Difference =
  /** A repository one side has. */
  | { kind: 'repository'; repository: string; only: Side }
  /** A manifest one side has (a ready row, for the database); why: what reindex would make of it. */
  | { kind: 'manifest'; repository: string; digest: string; only: Side; why?: string }
  /** A tag on one side, or pointing at different digests (both given). */
  | { kind: 'tag'; repository: string; tag: string; storage?: string; database?: string }
  /** A manifest the database lists that storage cannot serve whole. */
  | { kind: 'incomplete'; repository: string; digest: string; what: 'bytes' | 'blob' | 'child'; missing: string };

export interface VerifyOptions {
  /** Pull-through cache repositories: their listed manifests may lawfully lack blobs. */
  cachedRepository?: (name: string) => boolean;
  /** Repositories checked at once (default 8); differences still come in name order. */
  concurrency?: number;
}

export interface VerifySummary {
  repositories: number;
  /** Manifest revisions and tags storage holds. */
  manifests: number;
  tags: number;
  differences: number;
  /** Whether the database has ever imported storage (if not, every difference is expected). */
  imported: boolean;
}

interface RepositoryEntry {
  name: string;
  inStorage: boolean;
  inDatabase: boolean;
}

interface RepositoryResult {
  differences: Difference[];
  manifests: number;
  tags: number;
}

export async function verifyMetadata(
  storage: RegistryStorage,
  metadata: MetadataStore,
  report: (difference: Difference) => void,
  options: VerifyOptions = {},
): Promise<VerifySummary> {
  const summary: VerifySummary = {
    repositories: 0,
    manifests: 0,
    tags: 0,
    differences: 0,
    imported: (await metadata.getMeta(IMPORTED_KEY)) !== undefined,
  };
  const presence = new BlobPresence(storage);
  const emit = (result: RepositoryResult) => {
    summary.repositories++;
    summary.manifests += result.manifests;
    summary.tags += result.tags;
    summary.differences += result.differences.length;
    for (const difference of result.differences) report(difference);
  };
  // A window of repositories in flight, answered in the order they were started.
  const window: Promise<RepositoryResult>[] = [];
  for await (const entry of repositoriesOfBoth(storage, metadata)) {
    const checking = verifyRepository(storage, metadata, entry, presence, options.cachedRepository?.(entry.name) ?? false);
    // Awaited in order below; a failure meanwhile must not count as unhandled.
    checking.catch(() => {});
    window.push(checking);
    if (window.length >= (options.concurrency ?? 8)) emit(await window.shift()!);
  }
  while (window.length > 0) emit(await window.shift()!);
  return summary;
}

/** Every repository name either side has, in byte order, with which sides have it. */
async function* repositoriesOfBoth(storage: RegistryStorage, metadata: MetadataStore): AsyncGenerator<RepositoryEntry> {
  const stored = await storage.catalog.freshRepositories();
  let i = 0;
  let last: string | undefined;
  for (;;) {
    const page = await metadata.listRepositories({ last, n: 1000 });
    for (const name of page.items) {
      while (i < stored.length && stored[i] < name) yield { name: stored[i++], inStorage: true, inDatabase: false };
      const inStorage = stored[i] === name;
      if (inStorage) i++;
      yield { name, inStorage, inDatabase: true };
    }
    if (!page.more) break;
    last = page.items.at(-1);
  }
  while (i < stored.length) yield { name: stored[i++], inStorage: true, inDatabase: false };
}

async function verifyRepository(
  storage: RegistryStorage,
  metadata: MetadataStore,
  entry: RepositoryEntry,
  presence: BlobPresence,
  cached: boolean,
): Promise<RepositoryResult> {
  const { name } = entry;
  const differences: Difference[] = [];
  if (entry.inStorage !== entry.inDatabase)
    differences.push({ kind: 'repository', repository: name, only: entry.inStorage ? 'storage' : 'database' });
  const [revisions, storedTags, rows, databaseTags] = await Promise.all([
    entry.inStorage ? storage.manifests.listRevisions(name) : Promise.resolve([]),
    entry.inStorage ? storage.manifests.storedTagTargets(name) : Promise.resolve(new Map<string, string>()),
    entry.inDatabase ? metadata.manifestGraph(name) : Promise.resolve([]),
    entry.inDatabase ? metadata.tagTargets(name) : Promise.resolve(new Map<string, string>()),
  ]);
  const stored = new Set(revisions);
  const byDigest = new Map(rows.map((row) => [row.digest, row]));
  const listed = new Set(rows.filter((row) => row.state === 'ready').map((row) => row.digest));

  for (const digest of [...revisions].sort()) {
    const row = byDigest.get(digest);
    if (row?.state === 'ready') continue;
    // A pending row is a push in flight; one older than any push is a push that died.
    if (row && row.pushedAt >= Date.now() - PENDING_STALE_MS) continue;
    const why = row
      ? 'pending since a push that died; the next start or reindex settles it'
      : await whyUnlisted(storage, name, digest, stored, presence);
    differences.push({ kind: 'manifest', repository: name, digest, only: 'storage', why });
  }
  for (const row of [...rows].sort((a, b) => (a.digest < b.digest ? -1 : 1))) {
    if (row.state !== 'ready') continue;
    if (!stored.has(row.digest)) {
      differences.push({ kind: 'manifest', repository: name, digest: row.digest, only: 'database' });
      continue;
    }
    differences.push(...(await incomplete(name, row, listed, presence, cached)));
  }

  for (const tag of [...new Set([...storedTags.keys(), ...databaseTags.keys()])].sort()) {
    const inStorage = storedTags.get(tag);
    const inDatabase = databaseTags.get(tag);
    if (inStorage !== inDatabase) differences.push({ kind: 'tag', repository: name, tag, storage: inStorage, database: inDatabase });
  }
  return { differences, manifests: revisions.length, tags: storedTags.size };
}

/** What of a listed manifest storage lacks: its bytes, its blobs (unless a cache's), its children. */
async function incomplete(name: string, row: ManifestNode, listed: Set<string>, presence: BlobPresence, cached: boolean): Promise<Difference[]> {
  const out: Difference[] = [];
  if (!(await presence.has(row.digest))) out.push({ kind: 'incomplete', repository: name, digest: row.digest, what: 'bytes', missing: row.digest });
  if (!cached) {
    for (const blob of await presence.missing(row.blobs))
      out.push({ kind: 'incomplete', repository: name, digest: row.digest, what: 'blob', missing: blob });
  }
  for (const child of row.children) {
    if (!listed.has(child)) out.push({ kind: 'incomplete', repository: name, digest: row.digest, what: 'child', missing: child });
  }
  return out;
}

/** Why a stored manifest is not listed: what reindex would do with it, read without changing anything. */
async function whyUnlisted(storage: RegistryStorage, name: string, digest: string, stored: Set<string>, presence: BlobPresence): Promise<string> {
  let revision;
  try {
    revision = await storage.manifests.storedRevision(name, digest);
  } catch (err) {
    if (err instanceof SyntaxError) return 'cannot be listed: revision link unreadable';
    throw err;
  }
  if (!revision) return 'deleted meanwhile';
  let bytes: Buffer;
  try {
    bytes = await storage.blobs.readGlobal(digest);
  } catch {
    return 'cannot be listed: manifest bytes missing';
  }
  let parsed;
  try {
    parsed = parseManifest(bytes, revision.mediaType ?? mediaTypeOfBytes(bytes));
  } catch (err) {
    if (err instanceof RegistryError) return `cannot be listed: not a manifest stowage serves (${err.message})`;
    throw err;
  }
  const gone = await presence.missing(parsed.blobs.map((b) => b.digest));
  if (gone.length > 0) return `cannot be listed: ${gone.length} blob(s) missing`;
  const children = parsed.manifests.filter((m) => !stored.has(m.digest));
  if (children.length > 0) return `cannot be listed: ${children.length} child manifest(s) missing`;
  return 'stowage reindex adds it';
}
