// The registry's storage, assembled once over any driver: blobs, uploads, manifests, the
// catalog and the pull-through cache's records share one driver and one cache. The server builds
// exactly one of these, and asks it for repositories (the Registry interface,
// storage/repository.ts); the stores themselves are for storage's own jobs (storage/jobs/) and
// the proxy's cache bookkeeping.
import type { StorageDriver } from './drivers/driver.js';
import { RegistryError } from '../errors/registry-error.js';
import { isNotFound } from './errors.js';
import { RegistryCache, DEFAULT_CACHE_OPTIONS, type CacheOptions } from './cache.js';
import { BlobStore } from './blobs.js';
import { UploadStore } from './uploads.js';
import { ManifestStore } from './manifests.js';
import { Catalog } from './catalog.js';
import { ProxyRecords } from './proxy-records.js';
import { LAYOUT_VERSION, LAYOUT_VERSION_KEY, type LayoutKind } from './layout.js';
import { recoverAbandonedRuns } from './jobs/gc-lease.js';
import { LocalRepository } from './local-repository.js';
import type { CachedManifest } from './cache.js';
import type { Registry, Repository, RepositoryContext } from './repository.js';
import { isValidTag, parseDigest } from './grammar.js';
import type { MetadataStore, Page, PageRequest } from './metadata/metadata-store.js';
import { PullRecorder } from './metadata/pull-recorder.js';
import { MetadataQueries } from './metadata/metadata-queries.js';
import { UsageQueries } from './metadata/usage-queries.js';
import { ChangeFeed } from './change-feed.js';
import { DatabaseClaim } from './database-claim.js';
import { ImmutableTags } from './immutable-tags.js';
import { RobotStore } from './metadata/robots.js';
import { Quotas } from './quotas.js';
import { AuditLog } from './audit-log.js';
import { AuditStore } from './metadata/audit-events.js';

/** stowage.audit, as the config holds it. */
export interface AuditSettings {
  path?: string;
  maxageMs?: number;
}

export class RegistryStorage implements Registry {
  readonly cache: RegistryCache;
  readonly blobs: BlobStore;
  readonly uploads: UploadStore;
  readonly manifests: ManifestStore;
  readonly catalog: Catalog;
  readonly proxyRecords: ProxyRecords;
  /** Pulls counted in memory and written in batches (with a metadata database). */
  readonly pulls?: PullRecorder;
  /** What the metadata database knows, for the JSON API (with a metadata database). */
  readonly queries?: MetadataQueries;
  /** Registry-wide totals from the metadata database (with one). */
  readonly usage?: UsageQueries;
  /** Other processes' changes, dropped from the cache as they are announced (PostgreSQL). */
  readonly changes?: ChangeFeed;
  /** Robot accounts (with a metadata database; auth/robot-accounts.ts decides what they may do). */
  readonly robots?: RobotStore;
  /**
   * The audit log (storage/audit-log.ts): to the metadata database when there is one, and to
   * stowage.audit.path when set. Jobs and the server record through it.
   */
  readonly audit: AuditLog;
  /** This process's claim on shared storage for its database (storage/database-claim.ts). */
  private claim?: DatabaseClaim;

  constructor(
    readonly driver: StorageDriver,
    cacheOptions: CacheOptions = DEFAULT_CACHE_OPTIONS,
    /** The metadata database (storage/metadata/); without one, listings walk storage. */
    readonly metadata?: MetadataStore,
    /** stowage's own tree, or a registry:2 tree served in place (storage/open.ts). */
    readonly layout: LayoutKind = 'stowage',
    /** Tags that never move nor go (`stowage.immutable`). */
    readonly immutable: ImmutableTags = new ImmutableTags(),
    /** Storage limits (`stowage.quotas`, storage/quotas.ts): pushes and upload starts are checked. */
    readonly quotas: Quotas = new Quotas(),
    /** stowage.audit: the JSON lines file and how long rows are kept. */
    auditSettings: AuditSettings = {},
  ) {
    this.cache = new RegistryCache(cacheOptions);
    this.blobs = new BlobStore(driver, this.cache, metadata ? (name) => metadata.ensureRepository(name) : undefined);
    this.uploads = new UploadStore(driver, this.blobs);
    this.manifests = new ManifestStore(driver, this.blobs, this.cache, metadata, layout, immutable, quotas);
    this.catalog = new Catalog(driver, this.cache, metadata);
    this.proxyRecords = new ProxyRecords(driver);
    if (metadata) {
      this.pulls = new PullRecorder(metadata);
      this.queries = new MetadataQueries(metadata);
      this.usage = new UsageQueries(metadata);
      this.changes = new ChangeFeed(this.cache, metadata, cacheOptions.ttlMs);
      this.robots = new RobotStore(metadata.database);
    }
    this.audit = new AuditLog({
      store: metadata ? new AuditStore(metadata.database) : undefined,
      path: auditSettings.path,
      maxAgeMs: auditSettings.maxageMs,
    });
  }

  /** The driver's kind, for logs and the readiness answer ("filesystem", "s3"). */
  get kind(): string {
    return this.driver.kind;
  }

  /** The repository of that (checked) name, served from this storage. */
  repository(name: string, context?: RepositoryContext): Repository {
    return new LocalRepository(name, this, context);
  }

  repositories(): Promise<string[]> {
    return this.catalog.repositories();
  }

  repositoriesPage(page: PageRequest): Promise<Page<string>> {
    return this.catalog.page(page);
  }

  /** Writes the pull counts still batched, then releases the metadata database's connections. */
  async close(): Promise<void> {
    await this.pulls?.close();
    await this.audit.close();
    await this.claim?.release();
    this.claim = undefined;
    await this.changes?.stop();
    await this.metadata?.database.close();
  }

  /** Drops what the cache holds if another process wrote to the metadata database since (SQLite). */
  catchUp(): void {
    this.changes?.catchUp();
  }

  /** Whether the storage answers now (readiness). */
  check(): Promise<void> {
    return this.driver.check();
  }

  /**
   * The manifest under a tag or digest if the cache holds it, without touching storage: the
   * manifest fast path (server/v2/fast-path.ts) answers only what this returns.
   */
  cachedManifest(name: string, reference: string): CachedManifest | undefined {
    let digest = reference;
    if (parseDigest(reference) === undefined) {
      if (!isValidTag(reference)) return undefined;
      const tagged = this.cache.tags.get(RegistryCache.tagKey(name, reference));
      if (tagged === undefined) return undefined;
      digest = tagged;
    }
    return this.cache.manifests.get(RegistryCache.contentKey(name, digest));
  }

  /**
   * Checks the storage is usable and carries a layout this version understands, and that every
   * process on shared storage uses this one's database (else DatabaseConflictError).
   */
  async open(): Promise<void> {
    await this.driver.check();
    // Before anything is written: a process refused here leaves the storage as it found it.
    if (this.metadata && this.driver.shared) this.claim = await DatabaseClaim.acquire(this.driver, this.metadata);
    try {
      // A registry:2 tree gets no layout-version: it stays Distribution's (storage/layout.ts).
      if (this.layout === 'stowage') await this.checkLayoutVersion();
      // A collection killed between setting something aside and judging it: put it back.
      await recoverAbandonedRuns(this.driver);
      // Before anything is cached: from here on, other replicas' changes reach the cache.
      await this.changes?.start();
    } catch (err) {
      await this.claim?.release();
      this.claim = undefined;
      throw err;
    }
  }

  private async checkLayoutVersion(): Promise<void> {
    try {
      const version = (await this.driver.getContent(LAYOUT_VERSION_KEY)).toString('utf8').trim();
      if (version !== LAYOUT_VERSION) {
        throw new RegistryError('UNKNOWN', `storage layout version ${version} is not supported (expected ${LAYOUT_VERSION})`);
      }
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.driver.putContent(LAYOUT_VERSION_KEY, LAYOUT_VERSION);
    }
  }
}
