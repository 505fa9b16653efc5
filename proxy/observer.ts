// What the pull-through cache reports besides its log lines: lookups by kind and result, and
// bytes fetched from upstream. server/metrics.ts turns these into Prometheus counters.

export type ProxyLookupResult = 'hit' | 'miss' | 'revalidated' | 'stale' | 'joined' | 'error';

export interface ProxyObserver {
  lookup(kind: 'manifest' | 'blob' | 'tags', result: ProxyLookupResult): void;
  upstreamBytes(upstream: string, bytes: number): void;
}

export const SILENT_OBSERVER: ProxyObserver = { lookup() {}, upstreamBytes() {} };
