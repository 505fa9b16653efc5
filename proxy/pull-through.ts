// The pull-through proxy, assembled once per app: routing, the manifest cache and blob fills.
// Reads go local first: a blob the repository links is a hit; a blob the registry holds for
// another repository is linked once upstream confirms this repository has it; anything else is
// a miss served by the single-flight fill. No upstream is contacted at start-up.
import type { Logger } from 'pino';
import { RegistryError } from '../errors/registry-error.js';
import { assertDigest, isValidTag } from '../storage/grammar.js';
import { compareLexically } from '../storage/manifests.js';
import type { RegistryStorage } from '../storage/registry.js';
import type { CachedManifest } from '../storage/cache.js';
import { BlobFills, type FilledBlob } from './blob-fill.js';
import { ProxyCacheCap } from './cache-cap.js';
import { ProxyManifests } from './manifest-cache.js';
import { upstreamReferrerLists, upstreamTagLists, type UpstreamLists } from './upstream-lists.js';
import type { Descriptor } from '../storage/manifest-format.js';
import type { ProxyRouter, ProxyRoute } from './routing.js';
import { UpstreamUnavailableError } from './upstream-client.js';
import { SILENT_OBSERVER, type ProxyObserver } from './observer.js';
import { UpstreamStats } from './upstream-stats.js';

export interface PullThroughOptions {
  /** Spool directory for blob fills (default: the OS temp directory). */
  spoolDir?: string;
  /** Deadline of one blob fill (default 1 hour). */
  fillTimeoutMs?: number;
  /** The clock for tag TTLs, remembered 404s and pull times (tests move it). */
  now?: () => number;
  /** Cap on the cache's bytes (stowage.proxycache.maxbytes); 0 or absent: no cap. */
  maxCacheBytes?: number;
  /** Hits, misses and upstream bytes for metrics. */
  observer?: ProxyObserver;
}

export type BlobLookup = { hit: true; size: number } | { hit: false; size?: number };

export class PullThroughProxy {
  readonly router: ProxyRouter;
  readonly manifests: ProxyManifests;
  readonly fills: BlobFills;
  readonly tagLists: UpstreamLists<string[] | undefined>;
  readonly referrerLists: UpstreamLists<Descriptor[]>;
  readonly cap?: ProxyCacheCap;
  /** Per-upstream counters since start (the JSON API's proxies page). */
  readonly stats = new UpstreamStats();
  private readonly observer: ProxyObserver;

  constructor(
    private readonly storage: RegistryStorage,
    router: ProxyRouter,
    private readonly logger: Logger,
    options: PullThroughOptions = {},
  ) {
    this.router = router;
    if (options.maxCacheBytes) {
      this.cap = new ProxyCacheCap({
        maxBytes: options.maxCacheBytes,
        storage,
        logger,
        isProxied: (name) => router.resolve(name) !== undefined,
        isFilling: (digest) => this.fills.inFlight(digest) !== undefined,
        now: options.now,
      });
    }
    const cap = this.cap;
    this.observer = this.stats.observing(options.observer ?? SILENT_OBSERVER);
    this.manifests = new ProxyManifests(storage, logger, options.now, cap && ((_name, _digest, size) => cap.added(size)), this.observer);
    this.tagLists = upstreamTagLists(logger, options.now, this.observer);
    this.referrerLists = upstreamReferrerLists(logger, options.now, this.observer);
    this.fills = new BlobFills({
      storage,
      logger,
      spoolDir: options.spoolDir,
      timeoutMs: options.fillTimeoutMs,
      onStored: cap && ((_digest, size) => cap.added(size)),
      observer: this.observer,
    });
  }

  route(name: string, ns?: string): ProxyRoute | undefined {
    return this.router.resolve(name, ns);
  }

  /** A manifest pulled through the proxy (counted as a pull for the cache cap). */
  async getManifest(route: ProxyRoute, reference: string): Promise<CachedManifest> {
    const manifest = await this.manifests.get(route, reference);
    this.cap?.touch(route.name, manifest.digest);
    return manifest;
  }

  /** getManifest for a GET: also counted in the pull statistics, as a pull of local storage is. */
  async pullManifest(route: ProxyRoute, reference: string): Promise<CachedManifest> {
    const manifest = await this.getManifest(route, reference);
    this.storage.pulls?.record(route.name, manifest.digest, reference === manifest.digest ? undefined : reference);
    return manifest;
  }

  /**
   * The tags a proxied repository answers with: upstream's list joined with the cached tags
   * (sorted), the cached tags alone with upstream unreachable, undefined when neither has any.
   */
  async listTags(route: ProxyRoute): Promise<string[] | undefined> {
    const cached = await this.storage.manifests.listTags(route.name);
    const upstream = await this.tagLists.get(route);
    if (upstream === 'stale' || upstream === undefined) {
      if (cached.length > 0 || (await this.storage.catalog.exists(route.name))) return cached;
      if (upstream === 'stale')
        throw new RegistryError('UNAVAILABLE', `${route.name} is not cached, and upstream ${route.upstream.client.host} is unavailable`, {
          detail: { name: route.name },
        });
      return undefined;
    }
    // A tag upstream lists that is not a valid tag here could not be pulled through us: left out.
    return [...new Set([...upstream.filter(isValidTag), ...cached])].sort(compareLexically);
  }

  /**
   * The referrers a proxied repository answers with: upstream's (API or tag schema) joined with the
   * cached ones, each digest once, filtered by artifactType here (upstream may not filter).
   */
  async listReferrers(route: ProxyRoute, subject: string, artifactType?: string): Promise<Descriptor[]> {
    assertDigest(subject);
    const cached = await this.storage.manifests.referrers(route.name, subject, artifactType);
    const upstream = await this.referrerLists.get(route, subject);
    if (upstream === 'stale') return cached;
    const seen = new Set(cached.map((d) => d.digest));
    const joined = [...cached];
    for (const descriptor of upstream) {
      if (seen.has(descriptor.digest) || (artifactType !== undefined && descriptor.artifactType !== artifactType)) continue;
      seen.add(descriptor.digest);
      joined.push(descriptor);
    }
    return joined;
  }

  /** Whether the blob is served from cache, and its size when known (HEAD of a proxied blob). */
  async statBlob(route: ProxyRoute, digest: string): Promise<BlobLookup> {
    assertDigest(digest);
    if (await this.linkIfCached(route, digest)) return { hit: true, size: (await this.storage.blobs.stat(route.name, digest)).size };
    const fill = this.fills.inFlight(digest);
    if (fill && fill.state !== 'starting' && fill.state !== 'failed') return { hit: false, size: fill.size };
    let res;
    try {
      res = await route.upstream.client.blob('HEAD', route.remoteName, digest);
    } catch (err) {
      throw this.unavailable(route, digest, err);
    }
    res.body.resume();
    if (res.status !== 200) throw new RegistryError('BLOB_UNKNOWN', undefined, { detail: { digest, upstream: res.status } });
    const length = res.headers['content-length'];
    return { hit: false, size: length !== undefined ? Number(length) : undefined };
  }

  /** A cached blob (undefined: serve it from storage) or a stream from its fill. */
  async openBlob(route: ProxyRoute, digest: string): Promise<FilledBlob | undefined> {
    assertDigest(digest);
    if (await this.linkIfCached(route, digest)) {
      this.logger.debug({ name: route.name, digest }, 'proxy blob hit');
      this.observer.lookup(route.upstream, 'blob', 'hit');
      return undefined;
    }
    return this.fills.open(digest, { upstream: route.upstream, remoteName: route.remoteName, name: route.name });
  }

  /** Lets running fills finish, then closes upstream connections. */
  async close(): Promise<void> {
    await this.fills.idle();
    await this.cap?.idle();
    this.router.close();
  }

  /**
   * True when the repository can serve the blob from storage. A blob held only for other
   * repositories is linked here after an upstream HEAD confirms this repository has it; with
   * upstream unreachable it is not (a digest alone must not open another repository's blob).
   */
  private async linkIfCached(route: ProxyRoute, digest: string): Promise<boolean> {
    if (await this.storage.blobs.has(route.name, digest)) return true;
    if (this.fills.inFlight(digest) || (await this.storage.blobs.statGlobal(digest)) === undefined) return false;
    let status: number;
    try {
      const res = await route.upstream.client.blob('HEAD', route.remoteName, digest);
      res.body.resume();
      status = res.status;
    } catch (err) {
      throw this.unavailable(route, digest, err);
    }
    if (status === 404 || status === 401 || status === 403)
      throw new RegistryError('BLOB_UNKNOWN', undefined, { detail: { digest, upstream: status } });
    if (status !== 200) return false;
    if (!(await this.storage.blobs.link(route.name, digest))) return false;
    this.logger.debug({ name: route.name, digest }, 'proxy blob hit: linked from the content store');
    this.observer.lookup(route.upstream, 'blob', 'hit');
    return true;
  }

  private unavailable(route: ProxyRoute, digest: string, err: unknown): RegistryError {
    if (err instanceof UpstreamUnavailableError) {
      this.observer.upstreamError(route.upstream);
      return new RegistryError('UNAVAILABLE', `not cached, and ${err.message}`, { detail: { name: route.name, digest } });
    }
    return err instanceof RegistryError ? err : new RegistryError('UNKNOWN', (err as Error).message, { cause: err });
  }
}
