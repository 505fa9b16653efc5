// The pull-through cache's size cap (stowage.proxycache.maxbytes). An image is a manifest of a
// proxied repository; its bytes are the manifest's and those of the blobs only cached images
// use. Past the cap, the least recently pulled images are evicted: the manifest revision (and
// the tags on it) goes, the repository's links to blobs no remaining manifest there needs go, and
// a blob's bytes go once no repository links it. Repositories that are not proxied are never
// touched, and nothing they hold is counted or deleted. Pull times are kept in memory and written
// to storage at most once an hour per image, so a cache hit rarely writes.
import type { Logger } from 'pino';
import { RegistryError } from '../errors/registry-error.js';
import { parseManifest } from '../storage/manifest-format.js';
import type { RegistryStorage } from '../storage/registry.js';
import { GcBusyError, runProxyEviction, type ProxyEvictionPass } from '../storage/jobs/proxy-eviction.js';

const PERSIST_EVERY_MS = 60 * 60 * 1000;

export interface CacheCapOptions {
  maxBytes: number;
  storage: RegistryStorage;
  logger: Logger;
  /** Whether a stored repository is a proxy cache (evictable). */
  isProxied: (name: string) => boolean;
  /** Whether a blob is being filled right now (its bytes are not to be deleted under it). */
  isFilling: (digest: string) => boolean;
  now?: () => number;
}

export interface EvictionReport {
  usageBefore: number;
  usageAfter: number;
  evicted: string[];
}

interface CachedImage {
  name: string;
  digest: string;
  size: number;
  lastPulled: number;
  blobs: Array<{ digest: string; size: number }>;
}

export class ProxyCacheCap {
  private readonly pulled = new Map<string, { at: number; persistedAt: number }>();
  private readonly now: () => number;
  /** Bytes cached as of the last pass plus what was added since; undefined before the first pass. */
  private estimate?: number;
  private running?: Promise<void>;
  private again = false;

  constructor(private readonly options: CacheCapOptions) {
    this.now = options.now ?? Date.now;
  }

  /** A client pulled this manifest of a proxied repository. */
  touch(name: string, digest: string): void {
    const key = `${name}@${digest}`;
    const at = this.now();
    const entry = this.pulled.get(key) ?? { at, persistedAt: 0 };
    entry.at = at;
    this.pulled.set(key, entry);
    if (at - entry.persistedAt < PERSIST_EVERY_MS) return;
    entry.persistedAt = at;
    this.options.storage.proxyRecords.writePulled(name, digest, at).catch((err: unknown) => {
      this.options.logger.warn({ name, digest, err: (err as Error).message }, 'proxy cache: cannot record a pull time');
    });
  }

  /** Bytes were added to the cache; runs an eviction pass when the cap may be exceeded. */
  added(bytes: number): void {
    if (this.estimate !== undefined) this.estimate += bytes;
    if (this.estimate === undefined || this.estimate > this.options.maxBytes) this.schedule();
  }

  /** Resolves when no eviction pass is running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private schedule(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.enforce()
      .then(
        (report) => {
          if (report.evicted.length > 0) this.options.logger.info(report, 'proxy cache over its cap: evicted the least recently pulled images');
        },
        (err: unknown) =>
          err instanceof GcBusyError
            ? this.options.logger.info('proxy cache eviction waits: a garbage collection is running')
            : this.options.logger.error({ err }, 'proxy cache eviction failed'),
      )
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.schedule();
        }
      });
  }

  /** One pass: measure what the cache holds and evict until it fits under the cap. */
  async enforce(): Promise<EvictionReport> {
    // A pass deletes blobs as garbage collection does (storage/jobs/proxy-eviction.ts): a local
    // push that links a blob after the scan below retains it, and keeps it. While a collection
    // runs, the pass waits for the next.
    return runProxyEviction(this.options.storage, (pass) => this.evictUntilUnderCap(pass));
  }

  private async evictUntilUnderCap(pass: ProxyEvictionPass): Promise<EvictionReport> {
    const { storage, maxBytes } = this.options;
    const names = await pass.repositories();
    const proxied = names.filter((n) => this.options.isProxied(n));
    const protectedDigests = new Set<string>();
    for (const name of names.filter((n) => !this.options.isProxied(n))) {
      for (const digest of await pass.layerLinks(name)) protectedDigests.add(digest);
      for (const digest of await pass.revisions(name)) protectedDigests.add(digest);
    }

    const images: CachedImage[] = [];
    /** digest -> repositories linking it (layers) or holding it (manifests), among proxied ones */
    const holders = new Map<string, Set<string>>();
    const sizes = new Map<string, number>();
    const hold = (digest: string, name: string) => {
      let set = holders.get(digest);
      if (!set) holders.set(digest, (set = new Set()));
      set.add(name);
    };
    for (const name of proxied) {
      for (const digest of await pass.layerLinks(name)) hold(digest, name);
      for (const digest of await pass.revisions(name)) {
        const image = await this.describe(pass, name, digest);
        if (!image) continue;
        images.push(image);
        hold(digest, name);
        sizes.set(digest, image.size);
        for (const blob of image.blobs) sizes.set(blob.digest, blob.size);
      }
    }
    let usage = 0;
    for (const digest of holders.keys()) {
      if (protectedDigests.has(digest)) continue;
      if (!sizes.has(digest)) sizes.set(digest, (await storage.blobs.statGlobal(digest)) ?? 0);
      usage += sizes.get(digest) ?? 0;
    }
    const report: EvictionReport = { usageBefore: usage, usageAfter: usage, evicted: [] };

    images.sort((a, b) => a.lastPulled - b.lastPulled);
    const remaining = new Set(images);
    for (const image of images) {
      if (usage <= maxBytes) break;
      remaining.delete(image);
      usage -= await this.evict(pass, image, remaining, holders, protectedDigests, sizes);
      report.evicted.push(`${image.name}@${image.digest}`);
    }
    report.usageAfter = usage;
    this.estimate = usage;
    return report;
  }

  /** Evicts one image; returns the bytes freed in the content store. */
  private async evict(
    pass: ProxyEvictionPass,
    image: CachedImage,
    remaining: Set<CachedImage>,
    holders: Map<string, Set<string>>,
    protectedDigests: Set<string>,
    sizes: Map<string, number>,
  ): Promise<number> {
    const { storage } = this.options;
    const { name, digest } = image;
    for (const tag of await storage.manifests.listTags(name)) {
      if ((await storage.manifests.resolveTag(name, tag).catch(() => undefined)) === digest) {
        await storage.proxyRecords.deleteTag(name, tag);
      }
    }
    await storage.manifests.delete(name, digest, { cache: true }).catch(ignoreUnknown);
    await storage.proxyRecords.deletePulled(name, digest);
    this.pulled.delete(`${name}@${digest}`);
    holders.get(digest)?.delete(name);

    const stillNeeded = new Set<string>();
    for (const other of remaining) {
      if (other.name !== name) continue;
      stillNeeded.add(other.digest);
      for (const blob of other.blobs) stillNeeded.add(blob.digest);
    }
    for (const blob of image.blobs) {
      if (stillNeeded.has(blob.digest)) continue;
      await storage.blobs.unlink(name, blob.digest).catch(ignoreUnknown);
      holders.get(blob.digest)?.delete(name);
    }
    let freed = 0;
    for (const candidate of [digest, ...image.blobs.map((b) => b.digest)]) {
      if ((holders.get(candidate)?.size ?? 0) > 0 || protectedDigests.has(candidate) || this.options.isFilling(candidate)) continue;
      if (!(await pass.deleteBlob(candidate))) continue;
      freed += sizes.get(candidate) ?? 0;
    }
    this.options.logger.info({ name, digest, freed }, 'proxy cache evicted an image');
    return freed;
  }

  private async describe(pass: ProxyEvictionPass, name: string, digest: string): Promise<CachedImage | undefined> {
    const { storage } = this.options;
    let manifest;
    try {
      manifest = await storage.manifests.get(name, digest);
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'MANIFEST_UNKNOWN') return undefined;
      throw err;
    }
    let blobs: CachedImage['blobs'] = [];
    try {
      blobs = parseManifest(manifest.bytes, manifest.mediaType).blobs.map((b) => ({ digest: b.digest, size: b.size }));
    } catch (err) {
      if (!(err instanceof RegistryError)) throw err;
    }
    // In memory, else as recorded in storage, else when the manifest was cached.
    const lastPulled = this.pulled.get(`${name}@${digest}`)?.at ?? (await pass.lastPulled(name, digest));
    return { name, digest, size: manifest.bytes.length, lastPulled, blobs };
  }
}

function ignoreUnknown(err: unknown): void {
  if (err instanceof RegistryError && (err.code === 'MANIFEST_UNKNOWN' || err.code === 'BLOB_UNKNOWN')) return;
  throw err;
}
