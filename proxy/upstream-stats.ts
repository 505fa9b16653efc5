// Counters per upstream since the process started, for the JSON API's proxies page
// (server/routes/api-proxies.ts): lookups answered from the cache and from upstream, upstream
// failures and bytes fetched. Prometheus counts the same by kind and result (server/metrics.ts);
// these are per upstream, keyed by its prefix (unique per upstream), and cost a map read each.
import type { ProxyLookupResult, ProxyObserver } from './observer.js';

export interface UpstreamCounters {
  lookups: Record<ProxyLookupResult, number>;
  /** Answered from the cache: hit, revalidated, stale. */
  hits: number;
  /** Fetched from upstream: miss, and joined (waited on a fetch in flight). */
  misses: number;
  /** Upstream could not be asked, or answered with an error or wrong bytes. */
  errors: number;
  bytesFetched: number;
}

const FROM_CACHE: ReadonlySet<ProxyLookupResult> = new Set(['hit', 'revalidated', 'stale']);
const FROM_UPSTREAM: ReadonlySet<ProxyLookupResult> = new Set(['miss', 'joined']);

function emptyCounters(): UpstreamCounters {
  return { lookups: { hit: 0, miss: 0, revalidated: 0, stale: 0, joined: 0, error: 0 }, hits: 0, misses: 0, errors: 0, bytesFetched: 0 };
}

export class UpstreamStats {
  private readonly byPrefix = new Map<string, UpstreamCounters>();

  /** The counters of the upstream with this prefix (zeros before its first report). */
  of(prefix: string): UpstreamCounters {
    let counters = this.byPrefix.get(prefix);
    if (!counters) this.byPrefix.set(prefix, (counters = emptyCounters()));
    return counters;
  }

  /** An observer that counts here, then passes each report on to next. */
  observing(next: ProxyObserver): ProxyObserver {
    return {
      lookup: (upstream, kind, result) => {
        const counters = this.of(upstream.prefix);
        counters.lookups[result]++;
        if (FROM_CACHE.has(result)) counters.hits++;
        else if (FROM_UPSTREAM.has(result)) counters.misses++;
        next.lookup(upstream, kind, result);
      },
      upstreamBytes: (upstream, bytes) => {
        this.of(upstream.prefix).bytesFetched += bytes;
        next.upstreamBytes(upstream, bytes);
      },
      upstreamError: (upstream) => {
        this.of(upstream.prefix).errors++;
        next.upstreamError(upstream);
      },
    };
  }
}
