// One PostgreSQL connection held for LISTEN on a channel (MetadataDatabase.listen). It says when
// announcements may have been missed: the connection ended, failed, or stopped answering a
// heartbeat (a peer gone without a word leaves a TCP connection silent, not closed). Then it
// reconnects, as many times as it takes, and says when it listens again.
import type { Client } from 'pg';

export interface ListenHandlers {
  /** An announcement on the channel, from any process on the database (this one included). */
  message(payload: string): void;
  /**
   * Whether every announcement reaches this process: false once the connection is lost (some may
   * be missed from then on), true once it listens again. PostgreSQL only.
   */
  live?(live: boolean): void;
}

export interface ListenOptions {
  /** How often the connection is asked to answer, and how long it has to: a silent loss is
   *  noticed within twice this. */
  heartbeatMs?: number;
  /** How long to wait before each attempt to reconnect. */
  retryMs?: number;
}

export const DEFAULT_HEARTBEAT_MS = 2000;
export const LISTENER_APPLICATION_NAME = 'stowage-listen';
export const DEFAULT_RETRY_MS = 1000;

export class PgListener {
  private client?: Client;
  private live = false;
  private closed = false;
  private timer?: NodeJS.Timeout;
  private readonly heartbeatMs: number;
  private readonly retryMs: number;

  constructor(
    private readonly pg: typeof import('pg'),
    private readonly url: string,
    private readonly channel: string,
    private readonly handlers: ListenHandlers,
    options: ListenOptions = {},
  ) {
    this.heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.retryMs = options.retryMs ?? DEFAULT_RETRY_MS;
  }

  /** Listens; throws if this first connection fails (later ones are retried). */
  start(): Promise<void> {
    return this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    const client = new this.pg.Client({
      connectionString: this.url,
      // Named, so an operator (or a test) can tell it from the pool's connections in pg_stat_activity.
      application_name: LISTENER_APPLICATION_NAME,
      keepAlive: true,
      connectionTimeoutMillis: Math.max(this.heartbeatMs, 5000),
      query_timeout: this.heartbeatMs,
    });
    // Announcements that come in with the LISTEN's answer (before this.client is set) count too.
    let connecting = true;
    client.on('notification', (message) => {
      if ((connecting || this.client === client) && message.channel === this.channel) this.handlers.message(message.payload ?? '');
    });
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel.replace(/"/g, '""')}"`);
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    } finally {
      connecting = false;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    // The server's own sockets keep it running; a command (stowage gc) must exit when it is done.
    (client as Client & { unref(): void }).unref();
    this.client = client;
    this.setLive(true);
    this.heartbeat(client);
  }

  private heartbeat(client: Client): void {
    this.timer = setTimeout(() => {
      client.query('select 1').then(
        () => {
          if (this.client === client) this.heartbeat(client);
        },
        () => this.lost(client),
      );
    }, this.heartbeatMs);
    this.timer.unref();
  }

  /** The connection is gone (or no longer answers): say so, and reconnect. */
  private lost(client: Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    clearTimeout(this.timer);
    // A query still waiting (the heartbeat) makes end() drop the socket rather than wait on it.
    void client.end().catch(() => {});
    this.setLive(false);
    this.retry();
  }

  private retry(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.connect().catch(() => this.retry()), this.retryMs);
    this.timer.unref();
  }

  private setLive(live: boolean): void {
    if (this.live === live) return;
    this.live = live;
    this.handlers.live?.(live);
  }
}
