// The hot-read caches (tag -> digest, manifest bytes, blob existence, listings) in one place, so
// every write path can invalidate what it changed. Entries also expire after a short TTL because
// another process (a second replica, or the CLI) may write to the same storage.
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

  constructor(options: CacheOptions = DEFAULT_CACHE_OPTIONS) {
    const ttl = Math.max(1, options.ttlMs);
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

  clear(): void {
    this.tags.clear();
    this.manifests.clear();
    this.blobs.clear();
    this.listings.clear();
  }
}
