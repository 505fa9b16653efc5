// Filesystem driver: keys are files below one root directory. A write goes to a temporary file
// in <root>/_tmp/ (a directory no key can name, on the same filesystem, so the rename that
// publishes it is atomic), and only rename(2) makes it visible under its key: listings never meet
// a write in flight, and a process killed mid-write leaves nothing under any key.
// Durability (unless fsync is off): the file's bytes are synced before the rename, and the
// directories whose entries changed after it, so a key never names a truncated file after a
// power loss, and a write that returned survives one (storage/drivers/fs/durability.ts). Appends (upload
// sessions) are synced only when move() publishes them.
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { CoalescingFileWriter, copyFileTo } from './streams.js';
import { changedDirectories, durableOps } from './durability.js';
import { NotFoundError } from '../../errors.js';
import { assertKey, type ByteRange, type DriverWriter, type ObjectInfo, type StorageDriver } from '../driver.js';

/** Where temporary files live, below the root. The driver refuses keys under it. */
export const TEMP_DIR = '_tmp';
/** Temporary files untouched this long belong to a dead process; check() deletes them. No write
 *  in flight stays idle that long: every chunk written updates the file's mtime. */
export const TEMP_MAX_AGE_MS = 24 * 60 * 60 * 1000;

export interface FilesystemDriverOptions {
  /** Sync data and directories so acknowledged writes survive a power loss (default true). */
  fsync?: boolean;
}

const READ_CHUNK = 256 * 1024;

function isEnoent(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

async function exists(file: string): Promise<boolean> {
  return fsp.access(file).then(
    () => true,
    () => false,
  );
}

export class FilesystemDriver implements StorageDriver {
  readonly kind = 'filesystem';
  // Writers on one host share its clock; touches and the collector's start use the precise one.
  readonly clockMarginMs = 0;
  readonly shared = false;
  readonly root: string;
  readonly fsync: boolean;
  private readonly tempDir: string;
  private swept?: Promise<void>;

  constructor(rootDirectory: string, options: FilesystemDriverOptions = {}) {
    this.root = path.resolve(rootDirectory);
    this.fsync = options.fsync ?? true;
    this.tempDir = path.join(this.root, TEMP_DIR);
  }

  private resolve(key: string): string {
    if (assertKey(key) === TEMP_DIR || key.startsWith(`${TEMP_DIR}/`)) {
      throw new Error(`refusing storage key ${JSON.stringify(key.slice(0, 200))}: reserved for temporary files`);
    }
    return path.join(this.root, key);
  }

  /** A new, empty temporary file, open for writing. */
  private async createTemp(): Promise<{ file: string; handle: fsp.FileHandle }> {
    const file = path.join(this.tempDir, randomBytes(12).toString('hex'));
    try {
      return { file, handle: await fsp.open(file, 'wx') };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // First write, or someone removed the directory: it is only a home for temporary files.
      await fsp.mkdir(this.tempDir, { recursive: true });
      return { file, handle: await fsp.open(file, 'wx') };
    }
  }

  /** Makes a complete (and, with fsync, synced) file visible under target. */
  private async publish(file: string, target: string): Promise<void> {
    const parent = path.dirname(target);
    for (let attempt = 0; ; attempt++) {
      const created = await fsp.mkdir(parent, { recursive: true });
      try {
        await durableOps.rename(file, target);
      } catch (err) {
        // Garbage collection removes a directory when it sets its last object aside (setAside):
        // one that vanished between the mkdir and the rename is made again.
        if (attempt < 3 && isEnoent(err) && (await exists(file))) continue;
        throw err;
      }
      await this.syncDirectories(parent, created);
      return;
    }
  }

  private async syncDirectories(parent: string, created: string | undefined): Promise<void> {
    if (!this.fsync) return;
    // At once: concurrent syncs share one journal commit on ext4 and XFS.
    await Promise.all(changedDirectories(parent, created, this.root).map((dir) => durableOps.syncDirectory(dir)));
  }

  async stat(key: string): Promise<ObjectInfo> {
    try {
      const st = await fsp.stat(this.resolve(key));
      if (!st.isFile()) throw new NotFoundError(key);
      return { size: st.size, modifiedAt: st.mtime };
    } catch (err) {
      if (isEnoent(err)) throw new NotFoundError(key, { cause: err });
      throw err;
    }
  }

  /** Opens an object for reading; NotFoundError when absent. */
  private async open(key: string): Promise<fsp.FileHandle> {
    try {
      return await fsp.open(this.resolve(key), 'r');
    } catch (err) {
      if (isEnoent(err)) throw new NotFoundError(key, { cause: err });
      throw err;
    }
  }

  async read(key: string, range?: ByteRange, signal?: AbortSignal): Promise<Readable> {
    const handle = await this.open(key);
    return handle.createReadStream({
      start: range?.start,
      end: range?.end,
      highWaterMark: READ_CHUNK,
      signal,
    });
  }

  async copyTo(key: string, destination: Writable, range?: ByteRange, signal?: AbortSignal): Promise<number> {
    const handle = await this.open(key);
    try {
      const start = range?.start ?? 0;
      const end = range?.end ?? (await handle.stat()).size - 1;
      return await copyFileTo(handle, destination, start, end - start + 1, signal);
    } finally {
      await handle.close();
    }
  }

  async getContent(key: string): Promise<Buffer> {
    try {
      return await fsp.readFile(this.resolve(key));
    } catch (err) {
      if (isEnoent(err)) throw new NotFoundError(key, { cause: err });
      throw err;
    }
  }

  async putContent(key: string, content: Buffer | string): Promise<void> {
    const target = this.resolve(key);
    const { file, handle } = await this.createTemp();
    try {
      try {
        await handle.writeFile(content);
        if (this.fsync) await durableOps.syncFile(handle, file);
      } finally {
        await handle.close();
      }
      await this.publish(file, target);
    } catch (err) {
      await fsp.rm(file, { force: true });
      throw err;
    }
  }

  async writer(key: string, options: { append?: boolean } = {}): Promise<DriverWriter> {
    const target = this.resolve(key);
    if (options.append) return this.appender(target);
    const { file, handle } = await this.createTemp();
    const stream = new CoalescingFileWriter(handle, this.fsync ? () => durableOps.syncFile(handle, file) : undefined);
    return {
      stream,
      commit: () => this.publish(file, target),
      abort: async () => {
        stream.destroy();
        await fsp.rm(file, { force: true });
      },
    };
  }

  /** Appends in place (upload sessions). Not synced: an append object is scratch space until
   *  move() publishes it, which syncs it first; syncing each chunk would only make the client
   *  wait for writeback the kernel otherwise does while the next bytes arrive. */
  private async appender(target: string): Promise<DriverWriter> {
    await fsp.mkdir(path.dirname(target), { recursive: true });
    const stream = new CoalescingFileWriter(await fsp.open(target, 'a'));
    return { stream, commit: async () => {}, abort: async () => {} };
  }

  async list(prefix: string): Promise<string[]> {
    try {
      // Temporary files live in their own directory: every entry here is an object or a prefix.
      return (await fsp.readdir(this.resolve(prefix))).sort();
    } catch (err) {
      if (isEnoent(err)) return [];
      throw err;
    }
  }

  async move(from: string, to: string): Promise<void> {
    const source = this.resolve(from);
    const target = this.resolve(to);
    // The source (upload data) was appended without sync; its bytes go to disk before the rename
    // makes them a blob. Cheap when they are there already.
    if (this.fsync) {
      const handle = await this.open(from);
      try {
        await durableOps.syncFile(handle, source);
      } finally {
        await handle.close();
      }
    }
    try {
      await this.publish(source, target);
    } catch (err) {
      if (isEnoent(err)) throw new NotFoundError(from, { cause: err });
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await fsp.rm(this.resolve(key), { recursive: true, force: true });
  }

  // A touch is utimes(2) on the object itself: it fails once the object has been set aside, and
  // a rename carries the inode's time along, so setAside() reads every touch that landed first.
  async touch(key: string): Promise<boolean> {
    const now = new Date();
    try {
      await fsp.utimes(this.resolve(key), now, now);
      return true;
    } catch (err) {
      if (isEnoent(err)) return false;
      throw err;
    }
  }

  async setAside(key: string, aside: string): Promise<Date | undefined> {
    const source = this.resolve(key);
    const target = this.resolve(aside);
    await fsp.mkdir(path.dirname(target), { recursive: true });
    try {
      await fsp.rename(source, target);
    } catch (err) {
      if (isEnoent(err)) return undefined;
      throw err;
    }
    // The object's directory goes with its last object, so no listing shows a deleted blob or
    // revision; a writer that loses the race for it makes it again (publish). Not synced: after
    // a crash the collection's aside folder is put back anyway (storage/liveness.ts).
    await fsp.rmdir(path.dirname(source)).catch(() => {});
    try {
      return (await fsp.stat(target)).mtime;
    } catch (err) {
      // A writer already moved it back: it is in use.
      if (isEnoent(err)) return new Date();
      throw err;
    }
  }

  async check(): Promise<void> {
    await fsp.mkdir(this.root, { recursive: true });
    await fsp.access(this.root, fsp.constants.R_OK | fsp.constants.W_OK);
    // Once per process (check() also answers /readyz): clear what killed processes left.
    this.swept ??= this.removeStaleTemps(Date.now() - TEMP_MAX_AGE_MS).then(
      () => {},
      (err: unknown) => {
        this.swept = undefined;
        throw err;
      },
    );
    await this.swept;
  }

  /** Deletes temporary files last written before cutoff (ms since the epoch). */
  async removeStaleTemps(cutoff: number): Promise<number> {
    let names: string[];
    try {
      names = await fsp.readdir(this.tempDir);
    } catch (err) {
      if (isEnoent(err)) return 0;
      throw err;
    }
    let removed = 0;
    for (const name of names) {
      const file = path.join(this.tempDir, name);
      try {
        if ((await fsp.lstat(file)).mtimeMs >= cutoff) continue;
        await fsp.rm(file, { recursive: true, force: true });
        removed++;
      } catch {
        // Gone already (another process swept it), or not ours to remove: not worth failing start-up.
      }
    }
    return removed;
  }
}
