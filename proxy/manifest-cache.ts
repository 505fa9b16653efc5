// Proxied manifests: stored through the registry's own storage under the stowage-side name, bytes
// exactly as upstream sent them (digest unchanged, media type from upstream's Content-Type).
// A manifest by digest never changes, so once cached it is served forever. A tag is served from
// cache for its upstream's TTL with no upstream call, then revalidated with one HEAD (Docker Hub
// does not count HEADs against its rate limit); an upstream 404 is remembered for notfoundttl;
// with upstream down or erroring the last known tag is served with a warning. Only manifests that
// clients ask for are fetched: an index's children come when a client pulls them by digest.
import { SILENT_OBSERVER, type ProxyObserver } from './observer.js';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { CachedManifest } from '../storage/cache.js';
import { RegistryError } from '../errors/registry-error.js';
import { assertDigest, assertTag, isDigestReference, parseDigest } from '../storage/grammar.js';
import { digestOfBytes } from '../storage/hashing.js';
import type { TagRecord } from '../storage/proxy-records.js';
import type { RegistryStorage } from '../storage/registry.js';
import type { ProxyRoute } from './routing.js';
import { UpstreamUnavailableError, type UpstreamManifest } from './upstream-client.js';

export class ProxyManifests {
  /** Upstream 404s: key -> until when (by this.now) the answer stands. */
  private readonly notFound = new LRUCache<string, number>({ max: 10_000 });
  private readonly inFlight = new Map<string, Promise<CachedManifest>>();

  constructor(
    private readonly storage: RegistryStorage,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    /** Told the size of each manifest fetched into the cache. */
    private readonly onStored?: (name: string, digest: string, size: number) => void,
    private readonly observer: ProxyObserver = SILENT_OBSERVER,
  ) {}

  /** The manifest a client pulls through the proxy, by tag or digest. */
  async get(route: ProxyRoute, reference: string): Promise<CachedManifest> {
    if (isDigestReference(reference)) {
      assertDigest(reference);
      const cached = await this.cached(route.name, reference);
      if (cached) {
        this.logger.debug({ name: route.name, reference }, 'proxy manifest hit');
        this.observer.lookup(route.upstream, 'manifest', 'hit');
        return cached;
      }
      return this.once(route, reference, () => this.fetch(route, reference));
    }
    assertTag(reference);
    const record = await this.readTagRecord(route.name, reference);
    const cached = record && (await this.cached(route.name, record.digest));
    const missKey = this.notFoundKey(route, reference);
    if (!record || !cached) {
      if (this.isKnownMissing(missKey)) throw unknownManifest(route, reference, 'upstream said not found recently');
      return this.once(route, reference, () => this.fetch(route, reference));
    }
    if (this.now() - record.validatedAt < route.upstream.ttlMs) {
      this.logger.debug({ name: route.name, reference, digest: record.digest }, 'proxy manifest hit');
      this.observer.lookup(route.upstream, 'manifest', 'hit');
      return cached;
    }
    if (this.isKnownMissing(missKey)) throw unknownManifest(route, reference, 'upstream said not found recently');
    return this.once(route, reference, () => this.revalidate(route, reference, cached));
  }

  /** One upstream HEAD; the cached manifest stays if its digest still matches or upstream is down. */
  private async revalidate(route: ProxyRoute, tag: string, cached: CachedManifest): Promise<CachedManifest> {
    let head: UpstreamManifest;
    try {
      head = await route.upstream.client.manifest('HEAD', route.remoteName, tag);
    } catch (err) {
      if (!(err instanceof UpstreamUnavailableError)) throw err;
      this.observer.upstreamError(route.upstream);
      this.logger.warn({ name: route.name, tag, digest: cached.digest, err: err.message }, 'proxy serving the last known tag: upstream unavailable');
      this.observer.lookup(route.upstream, 'manifest', 'stale');
      return cached;
    }
    if (head.status === 200 && head.digest === cached.digest) {
      await this.writeTagRecord(route.name, tag, cached.digest);
      this.logger.info({ name: route.name, tag, digest: cached.digest }, 'proxy tag revalidated: unchanged');
      this.observer.lookup(route.upstream, 'manifest', 'revalidated');
      return cached;
    }
    if (isMissing(head.status)) {
      this.rememberMissing(route, tag);
      throw unknownManifest(route, tag, `upstream answered ${head.status}`);
    }
    if (head.status !== 200) {
      this.observer.upstreamError(route.upstream);
      this.logger.warn({ name: route.name, tag, status: head.status }, 'proxy serving the last known tag: upstream answered oddly');
      this.observer.lookup(route.upstream, 'manifest', 'stale');
      return cached;
    }
    this.logger.info({ name: route.name, tag, from: cached.digest, to: head.digest }, 'proxy tag revalidated: changed upstream');
    try {
      return await this.fetch(route, tag);
    } catch (err) {
      if (!(err instanceof RegistryError) || err.code !== 'UNAVAILABLE') throw err;
      this.logger.warn({ name: route.name, tag, digest: cached.digest }, 'proxy serving the last known tag: upstream failed mid-revalidation');
      this.observer.lookup(route.upstream, 'manifest', 'stale');
      return cached;
    }
  }

  /** GETs a manifest from upstream, checks its digest and stores it (and the tag, by tag). */
  private async fetch(route: ProxyRoute, reference: string): Promise<CachedManifest> {
    let answer: UpstreamManifest;
    try {
      answer = await route.upstream.client.manifest('GET', route.remoteName, reference);
    } catch (err) {
      if (!(err instanceof UpstreamUnavailableError)) throw err;
      this.observer.upstreamError(route.upstream);
      throw new RegistryError('UNAVAILABLE', `not cached, and ${err.message}`, { detail: { name: route.name, reference } });
    }
    if (isMissing(answer.status)) {
      if (!isDigestReference(reference)) this.rememberMissing(route, reference);
      throw unknownManifest(route, reference, `upstream answered ${answer.status}`);
    }
    if (answer.status !== 200 || !answer.bytes) {
      this.observer.upstreamError(route.upstream);
      throw new RegistryError('UNAVAILABLE', `upstream answered ${answer.status}`, { status: 502, detail: { name: route.name, reference } });
    }
    const algorithm = parseDigest(isDigestReference(reference) ? reference : (answer.digest ?? ''))?.algorithm ?? 'sha256';
    const digest = digestOfBytes(answer.bytes, algorithm);
    if ((isDigestReference(reference) && digest !== reference) || (answer.digest && parseDigest(answer.digest) && answer.digest !== digest)) {
      this.observer.upstreamError(route.upstream);
      throw new RegistryError('UNAVAILABLE', 'upstream sent a manifest that does not match its digest', {
        status: 502,
        detail: { name: route.name, reference, digest, sent: answer.digest },
      });
    }
    await this.storage.manifests.put(route.name, digest, answer.bytes, answer.contentType, { checkReferences: false, cache: true });
    if (!isDigestReference(reference)) {
      await this.storage.manifests.tag(route.name, reference, digest, { strict: false, cache: true });
      await this.writeTagRecord(route.name, reference, digest);
    }
    this.notFound.delete(this.notFoundKey(route, reference));
    this.onStored?.(route.name, digest, answer.bytes.length);
    this.observer.lookup(route.upstream, 'manifest', 'miss');
    this.observer.upstreamBytes(route.upstream, answer.bytes.length);
    this.logger.info(
      { name: route.name, reference, digest, upstream: route.upstream.client.host, upstreamBytes: answer.bytes.length },
      'proxy manifest miss: fetched from upstream',
    );
    const stored = await this.cached(route.name, digest);
    if (!stored) throw new RegistryError('UNKNOWN', 'a manifest just stored cannot be read back');
    return stored;
  }

  private async cached(name: string, digest: string): Promise<CachedManifest | undefined> {
    try {
      return await this.storage.manifests.get(name, digest);
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'MANIFEST_UNKNOWN') return undefined;
      throw err;
    }
  }

  async readTagRecord(name: string, tag: string): Promise<TagRecord | undefined> {
    return this.storage.proxyRecords.readTag(name, tag);
  }

  private async writeTagRecord(name: string, tag: string, digest: string): Promise<void> {
    await this.storage.proxyRecords.writeTag(name, tag, { digest, validatedAt: this.now() });
  }

  /** Concurrent pulls of one reference share one upstream exchange. */
  private once(route: ProxyRoute, reference: string, work: () => Promise<CachedManifest>): Promise<CachedManifest> {
    const key = `${route.name}:${reference}`;
    const running = this.inFlight.get(key);
    if (running) return running;
    const promise = work().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, promise);
    return promise;
  }

  private rememberMissing(route: ProxyRoute, tag: string): void {
    this.notFound.set(this.notFoundKey(route, tag), this.now() + route.upstream.notFoundTtlMs);
  }

  private isKnownMissing(key: string): boolean {
    const until = this.notFound.get(key);
    if (until === undefined) return false;
    if (this.now() < until) return true;
    this.notFound.delete(key);
    return false;
  }

  private notFoundKey(route: ProxyRoute, reference: string): string {
    return `${route.name}:${reference}`;
  }
}

/** Upstream refusing access is answered like absence: the client cannot have it through us. */
function isMissing(status: number): boolean {
  return status === 404 || status === 401 || status === 403;
}

function unknownManifest(route: ProxyRoute, reference: string, why: string): RegistryError {
  return new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { name: route.name, reference, upstream: why } });
}
