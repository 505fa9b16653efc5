// Tags lists of proxied repositories: what upstream lists, joined with the tags in the cache, as
// Distribution's proxy answers (it asks upstream, and falls back to the local tags). Upstream's
// list is kept for the upstream's TTL, like a tag, so a client paging through a long list asks
// upstream once; with upstream down or erroring the cached tags are served with a warning.
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { SILENT_OBSERVER, type ProxyObserver } from './observer.js';
import type { ProxyRoute } from './routing.js';
import { UpstreamUnavailableError } from './upstream-client.js';

interface UpstreamTags {
  /** Undefined: upstream does not have the repository (404, or refused us: 401/403). */
  tags?: string[];
  fetchedAt: number;
}

export class ProxyTagLists {
  private readonly lists = new LRUCache<string, UpstreamTags>({ max: 1_000 });
  private readonly inFlight = new Map<string, Promise<UpstreamTags | undefined>>();

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    private readonly observer: ProxyObserver = SILENT_OBSERVER,
  ) {}

  /**
   * Upstream's tags for the route (undefined when upstream does not have the repository), or
   * `stale` when upstream could not be asked and the caller should answer from its cache alone.
   */
  async upstreamTags(route: ProxyRoute): Promise<string[] | undefined | 'stale'> {
    const key = `${route.upstream.prefix}\u0000${route.remoteName}`;
    const known = this.lists.get(key);
    if (known && this.now() - known.fetchedAt < route.upstream.ttlMs) {
      this.observer.lookup(route.upstream, 'tags', 'hit');
      return known.tags;
    }
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.fetch(route, key).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    } else this.observer.lookup(route.upstream, 'tags', 'joined');
    const fetched = await pending;
    return fetched ? fetched.tags : 'stale';
  }

  private async fetch(route: ProxyRoute, key: string): Promise<UpstreamTags | undefined> {
    try {
      const answer = await route.upstream.client.tags(route.remoteName);
      if (answer.status !== 200 && answer.status !== 404 && answer.status !== 401 && answer.status !== 403) {
        throw new UpstreamUnavailableError(`upstream answered ${answer.status}`);
      }
      const list: UpstreamTags = { tags: answer.status === 200 ? answer.tags : undefined, fetchedAt: this.now() };
      this.lists.set(key, list);
      this.observer.lookup(route.upstream, 'tags', 'miss');
      return list;
    } catch (err) {
      if (!(err instanceof UpstreamUnavailableError)) throw err;
      this.observer.upstreamError(route.upstream);
      this.logger.warn({ name: route.name, err: err.message }, 'proxy serving the cached tags only: upstream unavailable');
      this.observer.lookup(route.upstream, 'tags', 'stale');
      return undefined;
    }
  }
}
