// Builds the registry's storage from the config: the driver the config names, the caches, and the
// layout check. Shared by `stowage serve` and the maintenance commands (gc, ...).
import { FilesystemDriver } from '../storage/fs.js';
import { S3Driver, s3DriverOptions } from '../storage/s3.js';
import type { StorageDriver } from '../storage/driver.js';
import { RegistryStorage } from '../storage/registry.js';
import { parseDuration, storageRoot, type RegistryConfig } from './config.js';

export function driverFromConfig(config: RegistryConfig, env: NodeJS.ProcessEnv = process.env): StorageDriver {
  if (config.storage.s3) return new S3Driver(s3DriverOptions(config.storage.s3, env));
  return new FilesystemDriver(storageRoot(config));
}

export async function openStorage(config: RegistryConfig): Promise<RegistryStorage> {
  const storage = new RegistryStorage(driverFromConfig(config), {
    ttlMs: parseDuration(config.stowage.cache.ttl),
    manifestBytes: config.stowage.cache.manifestbytes,
  });
  await storage.open();
  return storage;
}
