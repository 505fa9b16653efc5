// Referrers of proxied repositories (signatures, SBOMs, attestations): what upstream holds,
// through its referrers API or the referrers tag schema (upstream-client.ts), joined with what the
// cache holds. Upstream's answer is kept for the upstream's TTL, like a tags list; with upstream
// down or erroring the cached referrers are served alone, with a warning.
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { Descriptor } from '../storage/manifest-format.js';
import { SILENT_OBSERVER, type ProxyObserver } from './observer.js';
import type { ProxyRoute } from './routing.js';
import { UpstreamUnavailableError } from './upstream-client.js';

interface UpstreamReferrers {
  manifests: Descriptor[];
  fetchedAt: number;
}

export class ProxyReferrerLists {
  private readonly lists = new LRUCache<string, UpstreamReferrers>({ max: 2_000 });
  private readonly inFlight = new Map<string, Promise<UpstreamReferrers | undefined>>();

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    private readonly observer: ProxyObserver = SILENT_OBSERVER,
  ) {}

  /** Upstream's referrers of subject ([] when it has none, or not the repository), or 'stale' when it could not be asked. */
  async upstreamReferrers(route: ProxyRoute, subject: string): Promise<Descriptor[] | 'stale'> {
    const key = `${route.upstream.prefix}\u0000${route.remoteName}\u0000${subject}`;
    const known = this.lists.get(key);
    if (known && this.now() - known.fetchedAt < route.upstream.ttlMs) {
      this.observer.lookup(route.upstream, 'referrers', 'hit');
      return known.manifests;
    }
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.fetch(route, subject, key).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    } else this.observer.lookup(route.upstream, 'referrers', 'joined');
    const fetched = await pending;
    return fetched ? fetched.manifests : 'stale';
  }

  private async fetch(route: ProxyRoute, subject: string, key: string): Promise<UpstreamReferrers | undefined> {
    try {
      const answer = await route.upstream.client.referrers(route.remoteName, subject);
      // Not there, or not for us to see: no referrers from upstream (the cache's still count).
      if (answer.status !== 200 && answer.status !== 401 && answer.status !== 403)
        throw new UpstreamUnavailableError(`upstream answered ${answer.status}`);
      const list: UpstreamReferrers = { manifests: answer.manifests ?? [], fetchedAt: this.now() };
      this.lists.set(key, list);
      this.observer.lookup(route.upstream, 'referrers', 'miss');
      return list;
    } catch (err) {
      if (!(err instanceof UpstreamUnavailableError)) throw err;
      this.observer.upstreamError(route.upstream);
      this.logger.warn({ name: route.name, subject, err: err.message }, 'proxy serving the cached referrers only: upstream unavailable');
      this.observer.lookup(route.upstream, 'referrers', 'stale');
      return undefined;
    }
  }
}
