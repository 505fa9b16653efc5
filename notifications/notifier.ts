// Delivery of webhook events: queued per endpoint in a bounded queue and sent in the background
// with retries and back-off. A slow or dead endpoint never delays a request; past the queue's
// bound the oldest events are dropped (and counted in the log), never the registry's memory.
// The events themselves come from notifications/listen.ts, a decorator of the repository.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { EVENTS_MEDIA_TYPE, type EventRequest, type RegistryEvent } from './events.js';
import type { EventSink } from './listen.js';

/** One of notifications.endpoints in the configuration, durations in milliseconds. */
export interface NotificationEndpointConfig {
  name: string;
  url: string;
  disabled?: boolean;
  headers?: Record<string, string[]>;
  timeoutMs?: number;
  backoffMs?: number;
  ignoredmediatypes?: string[];
  ignore?: { mediatypes?: string[]; actions?: string[] };
  queuesize?: number;
}

/** Who caused the events of one request and through which connection. */
export interface EventOrigin {
  request: EventRequest;
  /** The authenticated user or token subject; none when anonymous. */
  actor?: string;
  /** The registry's own address on the connection (host:port). */
  localAddr: string;
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
      if (this.dropped++ % 1000 === 0)
        this.logger.warn({ endpoint: this.config.name, dropped: this.dropped }, 'notification queue full: dropping oldest events');
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

  /** The sink for one request's events (notifications/listen.ts): each gets an id, a time and its origin. */
  sinkFor(origin: EventOrigin): EventSink {
    return (draft) =>
      this.publish({
        ...draft,
        id: randomUUID(),
        timestamp: new Date().toISOString(),
        request: origin.request,
        actor: { name: origin.actor || undefined },
        source: { addr: origin.localAddr, instanceID: INSTANCE_ID },
      });
  }
}
