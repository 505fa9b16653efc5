// What a storage backend of the test suites is (test/helpers/drivers.ts lists them): apart, so
// that a backend's module (s3rver.ts) and the list that imports it do not import each other.
import type { StorageDriver } from '../../storage/drivers/driver.js';

export interface DriverBackend {
  /** Where the registry's data lives, for messages (a directory, a bucket/prefix). */
  readonly root: string;
  /**
   * A local directory of the backend's own, removed with it, for files a registry keeps beside
   * its storage (an htpasswd file, keys, the proxy's spool).
   */
  readonly dir: string;
  /** The config's storage section that names this store, so that config and driver agree. */
  readonly config: Record<string, unknown>;
  /** A fresh driver over the same data; a second call stands for a restarted process. */
  driver(): StorageDriver;
  /**
   * Everything the backing store holds, inside the driver's root and around it, as
   * path -> sha256 of the content ("dir" for a directory; such paths end in "/").
   */
  snapshot(): Promise<Map<string, string>>;
  cleanup(): Promise<void>;
}

export interface DriverFactory {
  readonly name: string;
  create(): Promise<DriverBackend>;
}
