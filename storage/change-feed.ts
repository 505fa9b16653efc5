// Keeps this process's caches in step with every other process on one PostgreSQL database. Each
// change announced on CHANGES_CHANNEL (storage/metadata/changes.ts: sent after the database and
// storage hold it) drops what it names from the cache, so a tag moved through one replica is
// re-read by every replica on its next request instead of after the TTL. While the LISTEN
// connection lives, tags are kept longer than the TTL (RegistryCache.live). When it is lost,
// announcements may be missed: everything cached is dropped and entries go back to the TTL;
// when it listens again everything is dropped once more (for what was missed meanwhile).
// An SQLite database is served by one process, whose own writes update its cache directly; a
// command run beside it (stowage retag, rm, gc) commits from another process, which SQLite's
// data_version shows: catchUp(), called as each request begins, then drops the whole cache.
import type { RegistryCache } from './cache.js';
import { CHANGES_CHANNEL, decodeChange, type Change } from './metadata/changes.js';
import type { Subscription } from './metadata/database.js';
import type { MetadataStore } from './metadata/metadata-store.js';

const MIN_HEARTBEAT_MS = 500;
const MAX_HEARTBEAT_MS = 10_000;

/** What the feed did: a change applied to the cache, or the feed going live or not. */
export type FeedEvent = { type: 'change'; change: Change } | { type: 'live'; live: boolean };

export class ChangeFeed {
  private subscription?: Subscription;
  /** SQLite's data_version when catchUp() last looked. */
  private seenVersion?: number;
  private readonly observers = new Set<(event: FeedEvent) => void>();

  constructor(
    private readonly cache: RegistryCache,
    private readonly metadata: MetadataStore,
    /** The cache's TTL: the connection is checked this often (within bounds), so that a silent
     *  loss is noticed within about two TTLs and entries fall back to the TTL no later. */
    private readonly ttlMs: number,
  ) {}

  /** Whether every change through any replica reaches this cache now. */
  get live(): boolean {
    return this.cache.live;
  }

  /** Listens (PostgreSQL only); throws if it cannot now. retryMs: the wait before each reconnection. */
  async start(options: { retryMs?: number } = {}): Promise<void> {
    if (this.metadata.database.dialect !== 'postgres') {
      this.catchUp();
      return;
    }
    if (this.subscription) return;
    const heartbeatMs = Math.min(MAX_HEARTBEAT_MS, Math.max(MIN_HEARTBEAT_MS, this.ttlMs));
    this.subscription = await this.metadata.database.listen(
      CHANGES_CHANNEL,
      { message: (payload) => this.apply(decodeChange(payload)), live: (live) => this.setLive(live) },
      { heartbeatMs, retryMs: options.retryMs },
    );
  }

  /**
   * SQLite: drops everything cached when another process has written to the database since the
   * last call, so that a request that begins after a CLI command ended sees what it did.
   */
  catchUp(): void {
    const version = this.metadata.database.otherProcessesVersion();
    if (version === undefined) return;
    const seen = this.seenVersion;
    this.seenVersion = version;
    if (seen !== undefined && seen !== version) this.apply({ kind: 'everything' });
  }

  async stop(): Promise<void> {
    const subscription = this.subscription;
    this.subscription = undefined;
    await subscription?.close();
    this.cache.live = false;
  }

  /** Calls observer after each change is applied and each time the feed goes live or not. */
  observe(observer: (event: FeedEvent) => void): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  private apply(change: Change): void {
    switch (change.kind) {
      case 'tag':
        this.cache.forgetTag(change.repository, change.tag);
        break;
      case 'pushed':
        this.cache.invalidateCatalog();
        break;
      case 'deleted':
        this.cache.forgetManifest(change.repository, change.digest);
        break;
      case 'repository':
        this.cache.forgetRepository(change.repository);
        break;
      case 'everything':
        this.cache.clear();
        this.metadata.forget();
        break;
    }
    this.emit({ type: 'change', change });
  }

  private setLive(live: boolean): void {
    // Lost: from now on entries expire after the TTL. Back: what was missed meanwhile is dropped
    // before entries are kept long again.
    if (!live) this.cache.live = false;
    this.apply({ kind: 'everything' });
    if (live) this.cache.live = true;
    this.emit({ type: 'live', live });
  }

  private emit(event: FeedEvent): void {
    for (const observer of this.observers) observer(event);
  }
}
