// Filesystem driver: keys are files below one root directory. Atomic replacement is a write to a
// temporary file next to the target followed by rename(2), which POSIX makes atomic.
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { CoalescingFileWriter, copyFileTo } from './fs-streams.js';
import { NotFoundError } from './errors.js';
import { assertKey, type ByteRange, type DriverWriter, type ObjectInfo, type StorageDriver } from './driver.js';

const READ_CHUNK = 256 * 1024;

function isEnoent(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function tempSuffix(): string {
  return `.tmp-${randomBytes(6).toString('hex')}`;
}

async function exists(file: string): Promise<boolean> {
  return fsp.access(file).then(
    () => true,
    () => false,
  );
}

/**
 * Runs op, which writes into target's directory, after making the directory. Garbage collection
 * removes a directory when it sets its last object aside, so a write that finds it gone (ENOENT,
 * and, when given, its source still there) makes it again and retries.
 */
async function inDirectory<T>(target: string, op: () => Promise<T>, sourceStillThere?: () => Promise<boolean>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    await fsp.mkdir(path.dirname(target), { recursive: true });
    try {
      return await op();
    } catch (err) {
      if (attempt >= 3 || !isEnoent(err) || (sourceStillThere && !(await sourceStillThere()))) throw err;
    }
  }
}

export class FilesystemDriver implements StorageDriver {
  readonly kind = 'filesystem';
  readonly clockMarginMs = 0;
  readonly root: string;

  constructor(rootDirectory: string) {
    this.root = path.resolve(rootDirectory);
  }

  private resolve(key: string): string {
    return path.join(this.root, assertKey(key));
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
    const temp = target + tempSuffix();
    try {
      await inDirectory(target, async () => {
        await fsp.writeFile(temp, content);
        await fsp.rename(temp, target);
      });
    } catch (err) {
      await fsp.rm(temp, { force: true });
      throw err;
    }
  }

  async writer(key: string, options: { append?: boolean } = {}): Promise<DriverWriter> {
    const target = this.resolve(key);
    await fsp.mkdir(path.dirname(target), { recursive: true });
    if (options.append) {
      const stream = new CoalescingFileWriter(await fsp.open(target, 'a'));
      return { stream, commit: async () => {}, abort: async () => {} };
    }
    const temp = target + tempSuffix();
    const stream = new CoalescingFileWriter(await fsp.open(temp, 'wx'));
    return {
      stream,
      commit: () => fsp.rename(temp, target),
      abort: async () => {
        stream.destroy();
        await fsp.rm(temp, { force: true });
      },
    };
  }

  async list(prefix: string): Promise<string[]> {
    try {
      const names = await fsp.readdir(this.resolve(prefix));
      // Temporary files of writes in flight are not objects yet.
      return names.filter((n) => !n.includes('.tmp-')).sort();
    } catch (err) {
      if (isEnoent(err)) return [];
      throw err;
    }
  }

  async move(from: string, to: string): Promise<void> {
    const source = this.resolve(from);
    const target = this.resolve(to);
    try {
      await inDirectory(target, () => fsp.rename(source, target), () => exists(source));
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
    const target = this.resolve(aside);
    await fsp.mkdir(path.dirname(target), { recursive: true });
    const source = this.resolve(key);
    try {
      await fsp.rename(source, target);
    } catch (err) {
      if (isEnoent(err)) return undefined;
      throw err;
    }
    // The object's directory goes with its last object (no listing shows a deleted blob or
    // revision); a writer that loses the race for it makes it again (inDirectory).
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
  }
}
