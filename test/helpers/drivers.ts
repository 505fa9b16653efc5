// The storage backends every driver-independent suite runs on, one row each. A backend owns its
// backing store (a temp directory today; a bucket once an S3 driver exists) and can open any
// number of drivers over it, which is how the suites simulate a restart.
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { FilesystemDriver } from '../../storage/drivers/fs/fs-driver.js';
import type { DriverFactory } from './driver-backend.js';
import { s3DriverFactory } from './s3rver.js';

// The types live in driver-backend.ts, which s3rver.ts imports without importing this module back.
export type { DriverBackend, DriverFactory } from './driver-backend.js';

async function walk(dir: string, base: string, out: Map<string, string>): Promise<void> {
  for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    const rel = path.relative(base, full);
    if (entry.isDirectory()) {
      out.set(`${rel}/`, 'dir');
      await walk(full, base, out);
    } else {
      out.set(rel, createHash('sha256').update(await fsp.readFile(full)).digest('hex'));
    }
  }
}

/** A temp sandbox with the driver's root one level down, so writes that escape the root show. */
export const filesystemDriverFactory: DriverFactory = {
  name: 'filesystem',
  async create() {
    const sandbox = await fsp.mkdtemp(path.join(os.tmpdir(), 'stowage-test-'));
    const root = path.join(sandbox, 'root');
    await fsp.mkdir(root);
    return {
      root,
      driver: () => new FilesystemDriver(root),
      async snapshot() {
        const out = new Map<string, string>();
        await walk(sandbox, sandbox, out);
        return out;
      },
      cleanup: () => fsp.rm(sandbox, { recursive: true, force: true }),
    };
  },
};

/** The rows of describe.each in every API suite. An S3 row joins here when that driver exists. */
export const DRIVERS: DriverFactory[] = [filesystemDriverFactory, s3DriverFactory];
