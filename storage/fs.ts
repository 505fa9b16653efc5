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

export class FilesystemDriver implements StorageDriver {
  readonly kind = 'filesystem';
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
    await fsp.mkdir(path.dirname(target), { recursive: true });
    try {
      await fsp.writeFile(temp, content);
      await fsp.rename(temp, target);
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
    await fsp.mkdir(path.dirname(target), { recursive: true });
    try {
      await fsp.rename(source, target);
    } catch (err) {
      if (isEnoent(err)) throw new NotFoundError(from, { cause: err });
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await fsp.rm(this.resolve(key), { recursive: true, force: true });
  }

  async check(): Promise<void> {
    await fsp.mkdir(this.root, { recursive: true });
    await fsp.access(this.root, fsp.constants.R_OK | fsp.constants.W_OK);
  }
}
