// The hot-read caches (tag -> digest, manifest bytes, blob existence, listings) in one place, so
// every write path can invalidate what it changed. Entries also expire after a short TTL because
// another process (a second replica, or the CLI) may write to the same storage. Replicas on one
// PostgreSQL database hear of each other's changes (storage/change-feed.ts): each drops what it
// names here, and while that feed is live tags are kept longer than the TTL.
//
// A read from storage that began before a change was dropped here must not be cached after it:
// reads take a stamp() first and cache with it (setTag, setManifest), which refuses if their
// repository changed since.
import { LRUCache } from 'lru-cache';

export interface CacheOptions {
  /** How long a cached entry may be served without re-reading storage, in ms. */
  ttlMs: number;
  /** Bytes of manifest content to keep. */
  manifestBytes: number;
  /** The clock TTLs are measured on, in ms (lru-cache's performance.now by default): for tests. */
  now?: () => number;
}

/** The listings key of the repository catalog. */
export const CATALOG_LISTING = 'catalog';

export const DEFAULT_CACHE_OPTIONS: CacheOptions = { ttlMs: 2000, manifestBytes: 64 * 1024 * 1024 };

/**
 * How long a tag is kept while the change feed is live (or the TTL, if longer). Changes made
 * through stowage then arrive as announcements; this bounds only what bypasses it (a tag
 * written straight into storage).
 */
export const LIVE_TAG_TTL_MS = 5 * 60_000;

/** Repositories whose last change is remembered for the reads in flight; past it, all count as changed. */
const MAX_TRACKED_CHANGES = 10_000;

export interface CachedManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

/**
 * The bytes in memory of their own. Small buffers (request bodies gathered with Buffer.concat,
 * Buffer.from) are slices of Node's shared 8 KiB pool: cached as they are, each would keep a whole
 * slab alive, and the cache would hold several times the bytes its size limit counts.
 */
export function ownedBytes(bytes: Buffer): Buffer {
  if (bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.length) return bytes;
  const copy = Buffer.allocUnsafeSlow(bytes.length);
  bytes.copy(copy);
  return copy;
}

export class RegistryCache {
  readonly tags: LRUCache<string, string>;
  readonly manifests: LRUCache<string, CachedManifest>;
  readonly blobs: LRUCache<string, number>;
  readonly listings: LRUCache<string, string[]>;

  /** While true, every change through any replica reaches this cache (storage/change-feed.ts). */
  live = false;
  private readonly liveTagTtl: number;
  /** Counts the changes dropped here; a stamp is its value when a read began. */
  private changes = 0;
  private everythingChangedAt = 0;
  private readonly repositoryChangedAt = new Map<string, number>();

  constructor(options: CacheOptions = DEFAULT_CACHE_OPTIONS) {
    const ttl = Math.max(1, options.ttlMs);
    this.liveTagTtl = Math.max(ttl, LIVE_TAG_TTL_MS);
    // A given clock is read on every check (lru-cache otherwise reuses a reading for 1 ms of real time).
    const clock = options.now ? { perf: { now: options.now }, ttlResolution: 0 } : {};
    // lru-cache allocates its index arrays for `max` entries up front: keep the bounds modest,
    // they cost start-up time and resident memory whether or not they fill.
    this.tags = new LRUCache({ max: 20_000, ttl, ttlAutopurge: false, ...clock });
    this.manifests = new LRUCache({
      maxSize: Math.max(1, options.manifestBytes),
      sizeCalculation: (m) => m.bytes.length + 200,
      ttl,
      ...clock,
    });
    this.blobs = new LRUCache({ max: 50_000, ttl, ...clock });
    this.listings = new LRUCache({ max: 2_000, ttl, ...clock });
  }

  /** Bumped whenever a write may add a repository, so a catalog walk that began before it is
   *  not cached over the newer state. */
  catalogGeneration = 0;

  invalidateCatalog(): void {
    this.catalogGeneration++;
    this.listings.delete(CATALOG_LISTING);
  }

  static tagKey(name: string, tag: string): string {
    return `${name}:${tag}`;
  }

  static contentKey(name: string, digest: string): string {
    return `${name}@${digest}`;
  }

  /** The listings key of a repository's tags. */
  static tagsListingKey(name: string): string {
    return `tags:${name}`;
  }

  /** Take before reading storage; give to setTag/setManifest with what was read. */
  stamp(): number {
    return this.changes;
  }

  /** Caches a tag, unless its repository changed since the stamp (no stamp: a value just written). */
  setTag(name: string, tag: string, digest: string, since?: number): void {
    if (since !== undefined && !this.unchangedSince(name, since)) return;
    this.tags.set(RegistryCache.tagKey(name, tag), digest, this.live ? { ttl: this.liveTagTtl } : undefined);
  }

  /** Caches a manifest's bytes, unless its repository changed since the stamp. */
  setManifest(name: string, manifest: CachedManifest, since?: number): void {
    if (since !== undefined && !this.unchangedSince(name, since)) return;
    this.manifests.set(RegistryCache.contentKey(name, manifest.digest), manifest);
  }

  /** A tag was set, moved or deleted. */
  forgetTag(name: string, tag: string): void {
    this.changed(name);
    this.tags.delete(RegistryCache.tagKey(name, tag));
    this.listings.delete(RegistryCache.tagsListingKey(name));
  }

  /** A manifest was deleted, and the tags that pointed at it. */
  forgetManifest(name: string, digest: string): void {
    this.changed(name);
    this.manifests.delete(RegistryCache.contentKey(name, digest));
    const prefix = RegistryCache.tagKey(name, '');
    const pointing = [...this.tags.entries()].filter(([key, target]) => target === digest && key.startsWith(prefix));
    for (const [key] of pointing) this.tags.delete(key);
    this.listings.delete(RegistryCache.tagsListingKey(name));
  }

  /** Anything in the repository may have changed. */
  forgetRepository(name: string): void {
    this.changed(name);
    const tagPrefix = RegistryCache.tagKey(name, '');
    for (const key of [...this.tags.keys()]) if (key.startsWith(tagPrefix)) this.tags.delete(key);
    const contentPrefix = RegistryCache.contentKey(name, '');
    for (const key of [...this.manifests.keys()]) if (key.startsWith(contentPrefix)) this.manifests.delete(key);
    this.listings.delete(RegistryCache.tagsListingKey(name));
    this.invalidateCatalog();
  }

  private changed(name: string): void {
    // Forgetting which repositories changed when is safe only as "everything changed just now".
    if (this.repositoryChangedAt.size >= MAX_TRACKED_CHANGES) {
      this.repositoryChangedAt.clear();
      this.everythingChangedAt = this.changes;
    }
    this.repositoryChangedAt.set(name, ++this.changes);
  }

  private unchangedSince(name: string, since: number): boolean {
    return this.everythingChangedAt <= since && (this.repositoryChangedAt.get(name) ?? 0) <= since;
  }

  /**
   * Drops entries past their TTL. lru-cache only drops them when they are read again or pushed
   * out by the size bounds, so without this a registry that keeps seeing new tags and manifests
   * holds expired ones until every cache is at its bound; the server calls this on a timer.
   */
  purgeStale(): void {
    this.tags.purgeStale();
    this.manifests.purgeStale();
    this.blobs.purgeStale();
    this.listings.purgeStale();
  }

  /** Drops everything (and refuses what reads in flight would cache). */
  clear(): void {
    this.everythingChangedAt = ++this.changes;
    this.repositoryChangedAt.clear();
    this.catalogGeneration++;
    this.tags.clear();
    this.manifests.clear();
    this.blobs.clear();
    this.listings.clear();
  }
}
