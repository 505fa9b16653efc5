// What the pull-through cache reports besides its log lines, per upstream: lookups by kind and
// result, bytes fetched, and failures to get an answer from it. server/metrics.ts turns these
// into Prometheus counters; proxy/upstream-stats.ts keeps per-upstream totals for the JSON API.
import type { Upstream } from './routing.js';

export type ProxyLookupResult = 'hit' | 'miss' | 'revalidated' | 'stale' | 'joined' | 'error';

export interface ProxyObserver {
  lookup(upstream: Upstream, kind: 'manifest' | 'blob' | 'tags' | 'referrers', result: ProxyLookupResult): void;
  upstreamBytes(upstream: Upstream, bytes: number): void;
  /** Upstream could not be asked, or answered with an error or wrong bytes (not a plain "not found"). */
  upstreamError(upstream: Upstream): void;
}

export const SILENT_OBSERVER: ProxyObserver = { lookup() {}, upstreamBytes() {}, upstreamError() {} };
