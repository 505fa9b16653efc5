// The registry's storage, assembled once over any driver: blobs, uploads, manifests and the
// catalog share one driver and one cache. The server builds exactly one of these.
import type { StorageDriver } from './drivers/driver.js';
import { RegistryError } from '../errors/registry-error.js';
import { isNotFound } from './errors.js';
import { RegistryCache, DEFAULT_CACHE_OPTIONS, type CacheOptions } from './cache.js';
import { BlobStore } from './blobs.js';
import { UploadStore } from './uploads.js';
import { ManifestStore } from './manifests.js';
import { Catalog } from './catalog.js';
import { LAYOUT_VERSION, LAYOUT_VERSION_KEY } from './layout.js';
import { recoverAbandonedRuns } from './jobs/gc-lease.js';

export class RegistryStorage {
  readonly cache: RegistryCache;
  readonly blobs: BlobStore;
  readonly uploads: UploadStore;
  readonly manifests: ManifestStore;
  readonly catalog: Catalog;

  constructor(
    readonly driver: StorageDriver,
    cacheOptions: CacheOptions = DEFAULT_CACHE_OPTIONS,
  ) {
    this.cache = new RegistryCache(cacheOptions);
    this.blobs = new BlobStore(driver, this.cache);
    this.uploads = new UploadStore(driver, this.blobs);
    this.manifests = new ManifestStore(driver, this.blobs, this.cache);
    this.catalog = new Catalog(driver, this.cache);
  }

  /** Checks the storage is usable and carries a layout this version understands. */
  async open(): Promise<void> {
    await this.driver.check();
    try {
      const version = (await this.driver.getContent(LAYOUT_VERSION_KEY)).toString('utf8').trim();
      if (version !== LAYOUT_VERSION) {
        throw new RegistryError('UNKNOWN', `storage layout version ${version} is not supported (expected ${LAYOUT_VERSION})`);
      }
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.driver.putContent(LAYOUT_VERSION_KEY, LAYOUT_VERSION);
    }
    // A collection killed between setting something aside and judging it: put it back.
    await recoverAbandonedRuns(this.driver);
  }
}
