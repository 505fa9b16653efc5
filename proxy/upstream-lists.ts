// Lists a proxied repository answers with upstream's part of: its tags (joined with the cached
// tags, as Distribution's proxy answers: it asks upstream and falls back to the local tags) and a
// subject's referrers (signatures, SBOMs). Upstream's answer is kept for the upstream's TTL, like
// a tag, so a client paging through a long list asks upstream once; requests for one key share one
// fetch; with upstream down or erroring the caller answers from its cache alone, with a warning.
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { SILENT_OBSERVER, type ProxyObserver } from './observer.js';
import type { ProxyRoute } from './routing.js';
import type { Descriptor } from '../storage/manifest-format.js';
import { UpstreamUnavailableError } from './upstream-client.js';

interface Kept<T> {
  value: T;
  fetchedAt: number;
}

export interface UpstreamListSpec<T> {
  kind: 'tags' | 'referrers';
  max: number;
  /** Upstream's answer; throws UpstreamUnavailableError when it could not give one. */
  fetch(route: ProxyRoute, item: string): Promise<T>;
  /** What the warning says is served instead ("the cached tags only"). */
  fallback: string;
}

export class UpstreamLists<T> {
  private readonly lists: LRUCache<string, Kept<T>>;
  private readonly inFlight = new Map<string, Promise<Kept<T> | undefined>>();

  constructor(
    private readonly spec: UpstreamListSpec<T>,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    private readonly observer: ProxyObserver = SILENT_OBSERVER,
  ) {
    this.lists = new LRUCache({ max: spec.max });
  }

  /** Upstream's list for the route (and item: a subject), or 'stale' when upstream could not be asked. */
  async get(route: ProxyRoute, item = ''): Promise<T | 'stale'> {
    const key = `${route.upstream.prefix}\u0000${route.remoteName}\u0000${item}`;
    const known = this.lists.get(key);
    if (known && this.now() - known.fetchedAt < route.upstream.ttlMs) {
      this.observer.lookup(route.upstream, this.spec.kind, 'hit');
      return known.value;
    }
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.fetch(route, item, key).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    } else this.observer.lookup(route.upstream, this.spec.kind, 'joined');
    const fetched = await pending;
    return fetched ? fetched.value : 'stale';
  }

  private async fetch(route: ProxyRoute, item: string, key: string): Promise<Kept<T> | undefined> {
    try {
      const kept = { value: await this.spec.fetch(route, item), fetchedAt: this.now() };
      this.lists.set(key, kept);
      this.observer.lookup(route.upstream, this.spec.kind, 'miss');
      return kept;
    } catch (err) {
      if (!(err instanceof UpstreamUnavailableError)) throw err;
      this.observer.upstreamError(route.upstream);
      this.logger.warn(
        { name: route.name, ...(item ? { item } : {}), err: err.message },
        `proxy serving ${this.spec.fallback}: upstream unavailable`,
      );
      this.observer.lookup(route.upstream, this.spec.kind, 'stale');
      return undefined;
    }
  }
}

/** Upstream's tags (undefined: upstream does not have the repository, or refused us: 401/403). */
export function upstreamTagLists(logger: Logger, now?: () => number, observer?: ProxyObserver): UpstreamLists<string[] | undefined> {
  const spec: UpstreamListSpec<string[] | undefined> = {
    kind: 'tags',
    max: 1_000,
    fallback: 'the cached tags only',
    async fetch(route) {
      const answer = await route.upstream.client.tags(route.remoteName);
      if (answer.status !== 200 && answer.status !== 404 && answer.status !== 401 && answer.status !== 403) {
        throw new UpstreamUnavailableError(`upstream answered ${answer.status}`);
      }
      return answer.status === 200 ? answer.tags : undefined;
    },
  };
  return new UpstreamLists(spec, logger, now, observer);
}

/**
 * Upstream's referrers of a subject, through its referrers API or the referrers tag schema
 * (upstream-client.ts); [] when it has none, or not the repository, or refuses us.
 */
export function upstreamReferrerLists(logger: Logger, now?: () => number, observer?: ProxyObserver): UpstreamLists<Descriptor[]> {
  const spec: UpstreamListSpec<Descriptor[]> = {
    kind: 'referrers',
    max: 2_000,
    fallback: 'the cached referrers only',
    async fetch(route, subject) {
      const answer = await route.upstream.client.referrers(route.remoteName, subject);
      if (answer.status !== 200 && answer.status !== 401 && answer.status !== 403)
        throw new UpstreamUnavailableError(`upstream answered ${answer.status}`);
      return answer.manifests ?? [];
    },
  };
  return new UpstreamLists(spec, logger, now, observer);
}
