// The storage backends every driver-independent suite runs on, one row each. A backend owns its
// backing store (a temp directory today; a bucket once an S3 driver exists) and can open any
// number of drivers over it, which is how the suites simulate a restart.
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FilesystemDriver } from '../../storage/drivers/fs/fs-driver.js';
import type { StorageDriver } from '../../storage/drivers/driver.js';
import type { DriverFactory } from './driver-backend.js';
import { snapshot } from './fs-snapshot.js';
import { s3DriverFactory } from './s3rver.js';
import { tempDir } from './temp-dir.js';

// The types live in driver-backend.ts, which s3rver.ts imports without importing this module back.
export type { DriverBackend, DriverFactory } from './driver-backend.js';

/** A temp sandbox with the driver's root one level down, so writes that escape the root show. */
export const filesystemDriverFactory: DriverFactory = {
  name: 'filesystem',
  async create() {
    const sandbox = await tempDir('stowage-test-');
    const root = path.join(sandbox, 'root');
    await fsp.mkdir(root);
    return {
      root,
      dir: sandbox,
      config: { filesystem: { rootdirectory: root } },
      driver: () => new FilesystemDriver(root),
      snapshot: () => snapshot(sandbox),
      cleanup: () => fsp.rm(sandbox, { recursive: true, force: true }),
    };
  },
};

/**
 * A backend over a store the test set up itself and removes itself (a bucket of the test's own
 * s3rver, reached through a relay): the registry opens drivers over it; cleanup removes only the
 * backend's local directory. config is the storage section naming that store.
 */
export function existingStore(store: { root: string; driver: () => StorageDriver; config: Record<string, unknown> }): DriverFactory {
  return {
    name: store.root,
    async create() {
      const dir = await tempDir('stowage-test-');
      return {
        ...store,
        dir,
        snapshot: () => Promise.reject(new Error(`no snapshot of ${store.root}: the test that made it looks at it`)),
        cleanup: () => fsp.rm(dir, { recursive: true, force: true }),
      };
    },
  };
}

/** The rows of describe.each in every API suite. An S3 row joins here when that driver exists. */
export const DRIVERS: DriverFactory[] = [filesystemDriverFactory, s3DriverFactory];
