// The storage settings a configuration names, and the storage opened from them (storage/open.ts).
// Shared by `stowage serve` and the maintenance commands (gc, ...).
import { openRegistryStorage, type OpenOptions, type StorageSettings } from '../storage/open.js';
import type { RegistryStorage } from '../storage/registry.js';
import { databaseUrl, storageRoot, type RegistryConfig } from './config.js';

export function storageSettings(config: RegistryConfig): StorageSettings {
  return {
    s3: config.storage.s3,
    filesystem: { root: storageRoot(config), fsync: config.storage.filesystem?.fsync ?? true },
    cache: { ttlMs: config.stowage.cache.ttlMs, manifestBytes: config.stowage.cache.manifestbytes },
    database: { url: databaseUrl(config), fsync: config.storage.filesystem?.fsync ?? true },
  };
}

export function openStorage(config: RegistryConfig, options: OpenOptions = {}): Promise<RegistryStorage> {
  return openRegistryStorage(storageSettings(config), process.env, {
    immutable: config.stowage.immutable,
    quotas: config.stowage.quotas,
    audit: config.stowage.audit,
    ...options,
  });
}
