// Prometheus metrics (prom-client), one registry per app so that several apps in one process
// (tests, replicas) do not share counters. Recorded once per request by the access middleware.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ProxyObserver } from '../proxy/observer.js';
import type { Quotas } from '../storage/quotas.js';

export class RegistryMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'stowage_http_requests_total',
    help: 'HTTP requests answered, by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'stowage_http_request_duration_seconds',
    help: 'Time from request to response headers, by route and method',
    labelNames: ['route', 'method'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly bytesIn = new Counter({
    name: 'stowage_http_received_bytes_total',
    help: 'Bytes received on client connections, by route',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  readonly bytesOut = new Counter({
    name: 'stowage_http_sent_bytes_total',
    help: 'Response body bytes sent, by route',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  readonly uploadsInFlight = new Gauge({
    name: 'stowage_uploads_in_flight',
    help: 'Blob upload requests (POST/PATCH/PUT on uploads) being received now',
    registers: [this.registry],
  });
  readonly storageErrors = new Counter({
    name: 'stowage_storage_errors_total',
    help: 'Requests that failed with an internal (storage or unknown) error',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  readonly refusals = new Counter({
    name: 'stowage_requests_refused_total',
    help: 'Requests refused on purpose, by reason: uploads (stowage.http.maxuploads), client (maxuploadsperclient), storage_full',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly fastPathAnswers = new Counter({
    name: 'stowage_manifest_fast_path_total',
    help: 'Manifest GET/HEAD answered from memory before the middleware (server/fast-path.ts)',
    registers: [this.registry],
  });
  readonly proxyRequests = new Counter({
    name: 'stowage_proxy_requests_total',
    help: 'Pull-through cache lookups by kind (manifest, blob, tags) and result (hit, miss, revalidated, stale, joined, error)',
    labelNames: ['kind', 'result'] as const,
    registers: [this.registry],
  });
  readonly proxyUpstreamBytes = new Counter({
    name: 'stowage_proxy_upstream_bytes_total',
    help: 'Bytes fetched from upstream registries',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });

  readonly proxyUpstreamErrors = new Counter({
    name: 'stowage_proxy_upstream_errors_total',
    help: 'Times an upstream registry could not be asked, or answered with an error or wrong bytes',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });

  private readonly children = new Map<string, { requests: { inc(): void }; latency: { observe(v: number): void } }>();

  /**
   * Records one answered request. The labelled children are kept in a map: prom-client hashes
   * the label object on every inc() otherwise, a visible cost at tens of thousands of requests/s.
   * internalError: a 5xx that is no refusal on purpose (load shedding is not a failure).
   */
  recordRequest(route: string, method: string, status: number, seconds: number, internalError = status >= 500): void {
    const key = `${route} ${method} ${status}`;
    let child = this.children.get(key);
    if (!child) {
      child = { requests: this.requests.labels(route, method, String(status)), latency: this.latency.labels(route, method) };
      this.children.set(key, child);
    }
    child.requests.inc();
    child.latency.observe(seconds);
    if (internalError) this.storageErrors.inc({ route });
  }

  /** The pull-through cache's reports, as counters. */
  proxyObserver(): ProxyObserver {
    return {
      lookup: (_upstream, kind, result) => this.proxyRequests.inc({ kind, result }),
      upstreamBytes: (upstream, bytes) => this.proxyUpstreamBytes.inc({ upstream: upstream.client.host }, bytes),
      upstreamError: (upstream) => this.proxyUpstreamErrors.inc({ upstream: upstream.client.host }),
    };
  }

  private quotaGauges = false;

  /**
   * Each quota's used and allowed bytes, labelled by its repositories' globs, read from the
   * metadata database when scraped (storage/quotas.ts: reused while costly, until this process writes).
   */
  observeQuotas(quotas: Quotas): void {
    if (!quotas.enabled || this.quotaGauges) return;
    this.quotaGauges = true;
    const label = (repositories: string[]) => repositories.join(',');
    const limit = new Gauge({
      name: 'stowage_quota_limit_bytes',
      help: 'Bytes a quota (stowage.quotas) allows its repositories, by their globs',
      labelNames: ['quota'] as const,
      registers: [this.registry],
    });
    for (const rule of quotas.rules) limit.set({ quota: label(rule.repositories) }, rule.maxbytes);
    new Gauge({
      name: 'stowage_quota_used_bytes',
      help: 'Deduplicated bytes of the blobs the manifests of a quota’s repositories reference, by their globs',
      labelNames: ['quota'] as const,
      registers: [this.registry],
      async collect() {
        for (const quota of await quotas.usage()) this.set({ quota: label(quota.repositories) }, quota.usedBytes);
      },
    });
  }

  /** Process metrics (CPU, memory, event loop); only for the served process, not every test app. */
  collectProcessMetrics(): void {
    collectDefaultMetrics({ register: this.registry, prefix: 'stowage_' });
  }
}
