// Distribution-style webhook notifications: push, pull, mount and delete events, read off each
// answered request, queued per endpoint in a bounded queue and sent in the background with
// retries and back-off. A slow or dead endpoint never delays a request; past the queue's bound
// the oldest events are dropped (and counted in the log), never the registry's memory.
import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from './logger.js';
import type { RegistryConfig } from './config.js';

export const EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';

export type NotificationEndpointConfig = NonNullable<RegistryConfig['notifications']>['endpoints'][number];

export interface RegistryEvent {
  id: string;
  timestamp: string;
  action: 'push' | 'pull' | 'delete' | 'mount';
  target: { mediaType?: string; size?: number; length?: number; digest?: string; repository: string; url?: string; tag?: string; fromRepository?: string };
  request: { id: string; addr: string; host: string; method: string; useragent: string };
  actor: { name?: string };
  source: { addr: string; instanceID: string };
}

const INSTANCE_ID = randomUUID();
const MAX_BATCH = 50;
const MAX_BACKOFF_MS = 60_000;

/** One endpoint's queue and its sender loop. */
class EndpointQueue {
  private readonly queue: RegistryEvent[] = [];
  private sending = false;
  private dropped = 0;
  private readonly timeoutMs: number;
  private readonly backoffMs: number;
  private readonly capacity: number;
  private readonly ignoredTypes: Set<string>;
  private readonly ignoredActions: Set<string>;
  private readonly headers: Record<string, string>;
  private stopped = false;
  private wake?: () => void;

  constructor(
    readonly config: NotificationEndpointConfig,
    private readonly logger: Logger,
  ) {
    this.timeoutMs = config.timeoutMs ?? 5000;
    this.backoffMs = config.backoffMs ?? 1000;
    this.capacity = config.queuesize ?? 10_000;
    this.ignoredTypes = new Set([...(config.ignoredmediatypes ?? []), ...(config.ignore?.mediatypes ?? [])]);
    this.ignoredActions = new Set(config.ignore?.actions ?? []);
    this.headers = Object.fromEntries(Object.entries(config.headers ?? {}).map(([k, v]) => [k, v.join(', ')]));
  }

  enqueue(event: RegistryEvent): void {
    if (this.ignoredActions.has(event.action)) return;
    if (event.target.mediaType && this.ignoredTypes.has(event.target.mediaType)) return;
    if (this.queue.length >= this.capacity) {
      this.queue.shift();
      if (this.dropped++ % 1000 === 0) this.logger.warn({ endpoint: this.config.name, dropped: this.dropped }, 'notification queue full: dropping oldest events');
    }
    this.queue.push(event);
    if (!this.sending) void this.drain();
  }

  get pending(): number {
    return this.queue.length;
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  private async drain(): Promise<void> {
    this.sending = true;
    let failures = 0;
    while (this.queue.length > 0 && !this.stopped) {
      const batch = this.queue.slice(0, MAX_BATCH);
      try {
        const res = await fetch(this.config.url, {
          method: 'POST',
          headers: { ...this.headers, 'Content-Type': EVENTS_MEDIA_TYPE },
          body: JSON.stringify({ events: batch }),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        await res.body?.cancel();
        if (res.status >= 200 && res.status < 300) {
          this.queue.splice(0, batch.length);
          failures = 0;
          continue;
        }
        throw new Error(`endpoint answered ${res.status}`);
      } catch (err) {
        failures++;
        const delay = Math.min(MAX_BACKOFF_MS, this.backoffMs * 2 ** Math.min(failures - 1, 16));
        this.logger.warn({ endpoint: this.config.name, failures, retryInMs: delay, err: (err as Error).message }, 'notification delivery failed');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          timer.unref();
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
      }
    }
    this.sending = false;
  }
}

export class Notifier {
  private readonly endpoints: EndpointQueue[];

  constructor(endpoints: NotificationEndpointConfig[], logger: Logger) {
    this.endpoints = endpoints.filter((e) => !e.disabled).map((e) => new EndpointQueue(e, logger));
  }

  get enabled(): boolean {
    return this.endpoints.length > 0;
  }

  /** Events waiting to be delivered, per endpoint name. */
  pending(): Record<string, number> {
    return Object.fromEntries(this.endpoints.map((e) => [e.config.name, e.pending]));
  }

  publish(event: RegistryEvent): void {
    for (const endpoint of this.endpoints) endpoint.enqueue(event);
  }

  stop(): void {
    for (const endpoint of this.endpoints) endpoint.stop();
  }
}

/** Which event an answered /v2 request is, if any, read off its route and its answer. */
export function eventOf(ctx: Context): Omit<RegistryEvent, 'id' | 'timestamp' | 'request' | 'actor' | 'source'> | undefined {
  const route = ctx.state.route as string | undefined;
  const repository = ctx.state.repository as string | undefined;
  const param = (ctx.state.reference as string | undefined) ?? '';
  if (!repository) return undefined;
  const digest = ctx.response.get('Docker-Content-Digest') || undefined;
  const status = ctx.status;
  const length = Number(ctx.response.get('Content-Length') || 0);
  const tag = param && !param.includes(':') ? param : undefined;
  if (route === 'manifest') {
    if (ctx.method === 'GET' && status === 200) {
      return { action: 'pull', target: { repository, digest, tag, mediaType: ctx.response.get('Content-Type') || undefined, size: length, length, url: `/v2/${repository}/manifests/${digest}` } };
    }
    if (ctx.method === 'PUT' && status === 201) {
      const size = Number(ctx.get('Content-Length') || 0) || undefined;
      return { action: 'push', target: { repository, digest, tag, mediaType: ctx.get('Content-Type') || undefined, size, length: size, url: `/v2/${repository}/manifests/${digest}` } };
    }
    if (ctx.method === 'DELETE' && status === 202) return { action: 'delete', target: { repository, digest: tag ? undefined : param, tag } };
  }
  if (route === 'blob') {
    if (ctx.method === 'GET' && (status === 200 || status === 206)) {
      return { action: 'pull', target: { repository, digest, mediaType: 'application/octet-stream', size: length, length, url: `/v2/${repository}/blobs/${digest}` } };
    }
    if (ctx.method === 'DELETE' && status === 202) return { action: 'delete', target: { repository, digest: param } };
  }
  if ((route === 'upload' && ctx.method === 'PUT' && status === 201) || (route === 'uploads' && ctx.method === 'POST' && status === 201)) {
    const from = ctx.query.from;
    const mounted = route === 'uploads' && typeof ctx.query.mount === 'string' && typeof from === 'string';
    return {
      action: mounted ? 'mount' : 'push',
      target: { repository, digest, mediaType: 'application/octet-stream', url: `/v2/${repository}/blobs/${digest}`, fromRepository: mounted ? from : undefined },
    };
  }
  return undefined;
}

/** Publishes the event of each answered request; sits right inside the access middleware. */
export function notificationMiddleware(notifier: Notifier) {
  return async function notify(ctx: Context, next: Next): Promise<void> {
    await next();
    const event = eventOf(ctx);
    if (!event) return;
    notifier.publish({
      ...event,
      id: randomUUID(),
      timestamp: new Date().toISOString(),
      request: { id: String(ctx.state.requestId ?? ''), addr: ctx.ip, host: ctx.host, method: ctx.method, useragent: ctx.get('User-Agent') },
      // The authenticated user (htpasswd) or token subject, set by the /v2 router; none when anonymous.
      actor: { name: (ctx.state.user as string | undefined) || undefined },
      source: { addr: ctx.req.socket.localAddress ? `${ctx.req.socket.localAddress}:${ctx.req.socket.localPort}` : '', instanceID: INSTANCE_ID },
    });
  };
}
