// Builds the registry's storage from the config: the driver the config names, the caches, and the
// layout check. Shared by `stowage serve` and the maintenance commands (gc, ...).
import { FilesystemDriver } from '../storage/drivers/fs/fs-driver.js';
import type { StorageDriver } from '../storage/drivers/driver.js';
import { RegistryStorage } from '../storage/registry.js';
import { storageRoot, type RegistryConfig } from './config.js';

export async function driverFromConfig(config: RegistryConfig, env: NodeJS.ProcessEnv = process.env): Promise<StorageDriver> {
  if (config.storage.s3) {
    // Loaded only when configured: the S3 client is most of a filesystem registry's start-up time.
    const { S3Driver, s3DriverOptions } = await import('../storage/drivers/s3/s3-driver.js');
    return new S3Driver(s3DriverOptions(config.storage.s3, env));
  }
  return new FilesystemDriver(storageRoot(config), { fsync: config.storage.filesystem?.fsync ?? true });
}

export async function openStorage(config: RegistryConfig): Promise<RegistryStorage> {
  const storage = new RegistryStorage(await driverFromConfig(config), {
    ttlMs: config.stowage.cache.ttlMs,
    manifestBytes: config.stowage.cache.manifestbytes,
  });
  await storage.open();
  return storage;
}
