// Opens the registry's storage from its settings: the driver they name, the caches, and the
// layout check. The only place outside storage/drivers/ that constructs a driver, so callers
// (the server, the maintenance commands) never hold one.
//
// A registry:2 (CNCF Distribution) directory or S3 prefix is served in place: a root with no
// layout-version and no tree of ours, but Distribution's docker/registry/v2/, is opened below that
// prefix, its bare-digest revision links are read as Distribution reads them and new ones written
// the same way (storage/revision-link.ts), and the database imports it on the first start. Nothing
// is converted or moved, so registry:2 can serve the directory again after a rollback.
import { FilesystemDriver } from './drivers/fs/fs-driver.js';
import { SubtreeDriver } from './drivers/subtree.js';
import type { StorageDriver } from './drivers/driver.js';
import type { S3Settings } from './drivers/s3/s3-driver.js';
import { RegistryStorage, type AuditSettings } from './registry.js';
import type { CacheOptions } from './cache.js';
import { MetadataDatabase } from './metadata/database.js';
import { MetadataStore } from './metadata/metadata-store.js';
import { ensureImported } from './metadata/import.js';
import { isNotFound } from './errors.js';
import { ImmutableTags, type ImmutableTagRule } from './immutable-tags.js';
import { Quotas, type QuotaRule } from './quotas.js';
import { BLOBS_ROOT, DISTRIBUTION_ROOT, LAYOUT_VERSION_KEY, REPOSITORIES_ROOT, type LayoutKind } from './layout.js';

export interface StorageSettings {
  /** S3 (storage.s3); when absent, the filesystem under root. */
  s3?: S3Settings;
  filesystem: { root: string; fsync: boolean };
  cache: CacheOptions;
  /** The metadata database (storage/metadata/); without it, listings walk storage. */
  database?: { url: string; fsync: boolean };
}

export type { StorageDriver };

export async function openDriver(settings: Omit<StorageSettings, 'cache'>, env: NodeJS.ProcessEnv = process.env): Promise<StorageDriver> {
  if (settings.s3) {
    // Loaded only when configured: the S3 client is most of a filesystem registry's start-up time.
    const { S3Driver, s3DriverOptions } = await import('./drivers/s3/s3-driver.js');
    return new S3Driver(s3DriverOptions(settings.s3, env));
  }
  return new FilesystemDriver(settings.filesystem.root, { fsync: settings.filesystem.fsync });
}

export interface OpenOptions {
  /**
   * Import storage into a database that has never seen it, and settle pushes that died pending
   * (default). False for commands that do that themselves or must change nothing (reindex).
   */
  importExisting?: boolean;
  /** Tags that never move nor go (`stowage.immutable`, storage/immutable-tags.ts). */
  immutable?: ImmutableTagRule[];
  /** Storage limits per group of repositories (`stowage.quotas`, storage/quotas.ts). */
  quotas?: QuotaRule[];
  /** stowage.audit: the JSON lines file and how long rows are kept (storage/audit-log.ts). */
  audit?: AuditSettings;
}

export async function openRegistryStorage(
  settings: StorageSettings,
  env: NodeJS.ProcessEnv = process.env,
  options: OpenOptions = {},
): Promise<RegistryStorage> {
  const driver = await openDriver(settings, env);
  const metadata = settings.database
    ? new MetadataStore(await MetadataDatabase.open(settings.database.url, { fsync: settings.database.fsync }))
    : undefined;
  return openRegistryStorageOn(driver, settings.cache, metadata, options);
}

/**
 * The registry over a driver rooted where the configuration points: stowage's tree there, or a
 * registry:2 tree below it. Closes the database if it cannot open.
 */
export async function openRegistryStorageOn(
  driver: StorageDriver,
  cache: CacheOptions,
  metadata: MetadataStore | undefined,
  options: OpenOptions = {},
): Promise<RegistryStorage> {
  let storage: RegistryStorage | undefined;
  try {
    // Reachable first, so that a missing bucket says so rather than failing the layout probe.
    await driver.check();
    const layout = await detectLayout(driver);
    const immutable = new ImmutableTags(options.immutable);
    const quotas = new Quotas(options.quotas, metadata);
    storage =
      layout === 'distribution'
        ? new RegistryStorage(new SubtreeDriver(driver, DISTRIBUTION_ROOT), cache, metadata, layout, immutable, quotas, options.audit)
        : new RegistryStorage(driver, cache, metadata, layout, immutable, quotas, options.audit);
    await storage.open();
    // A database that has never seen this storage learns what it holds before anything is served.
    if (metadata && options.importExisting !== false) await ensureImported(storage, metadata);
  } catch (err) {
    await (storage ? storage.close() : metadata?.database.close());
    throw err;
  }
  return storage;
}

/**
 * Whose tree is at the driver's root: ours when it has layout-version or any of our tree (or is
 * empty: a new registry), Distribution's when all it has is docker/registry/v2/.
 */
export async function detectLayout(driver: StorageDriver): Promise<LayoutKind> {
  try {
    await driver.stat(LAYOUT_VERSION_KEY);
    return 'stowage';
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  const [blobs, repositories] = await Promise.all([driver.list(BLOBS_ROOT), driver.list(REPOSITORIES_ROOT)]);
  if (blobs.length > 0 || repositories.length > 0) return 'stowage';
  const distribution = await driver.list(DISTRIBUTION_ROOT);
  return distribution.includes(BLOBS_ROOT) || distribution.includes(REPOSITORIES_ROOT) ? 'distribution' : 'stowage';
}
