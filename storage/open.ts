// Opens the registry's storage from its settings: the driver they name, the caches, and the
// layout check. The only place outside storage/drivers/ that constructs a driver, so callers
// (the server, the maintenance commands) never hold one.
import { FilesystemDriver } from './drivers/fs/fs-driver.js';
import type { StorageDriver } from './drivers/driver.js';
import type { S3Settings } from './drivers/s3/s3-driver.js';
import { RegistryStorage } from './registry.js';
import type { CacheOptions } from './cache.js';
import { MetadataDatabase } from './metadata/database.js';
import { MetadataStore } from './metadata/metadata-store.js';
import { ensureImported } from './metadata/import.js';

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

export async function openRegistryStorage(settings: StorageSettings, env: NodeJS.ProcessEnv = process.env): Promise<RegistryStorage> {
  const driver = await openDriver(settings, env);
  const metadata = settings.database
    ? new MetadataStore(await MetadataDatabase.open(settings.database.url, { fsync: settings.database.fsync }))
    : undefined;
  const storage = new RegistryStorage(driver, settings.cache, metadata);
  try {
    await storage.open();
    // A database that has never seen this storage learns what it holds before anything is served.
    if (metadata) await ensureImported(storage, metadata);
  } catch (err) {
    await storage.close();
    throw err;
  }
  return storage;
}
