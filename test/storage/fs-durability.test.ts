// The filesystem driver's own promises beyond the contract: temporary files live in <root>/_tmp/,
// where no key can name them, and stale ones are cleared at start-up; with fsync (the default)
// a file's bytes reach the disk before the rename that publishes it, and the directories whose
// entries changed after it. The order is watched through the driver's durableOps seam.
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FilesystemDriver, TEMP_DIR, TEMP_MAX_AGE_MS } from '../../storage/drivers/fs/fs-driver.js';
import { durableOps } from '../../storage/drivers/fs/durability.js';
import { NotFoundError } from '../../storage/errors.js';
import { filesystemDriverFactory, type DriverBackend } from '../helpers/drivers.js';
import { configFrom } from '../../server/config.js';
import { driverFromConfig } from '../helpers/driver-from-config.js';

let backend: DriverBackend;

beforeEach(async () => {
  backend = await filesystemDriverFactory.create();
});

afterEach(async () => {
  vi.restoreAllMocks();
  await backend.cleanup();
});

/** Records durableOps calls as "sync-file P", "rename A -> B", "sync-dir D", paths relative to
 *  the root and temporary files as _tmp/*. */
function recordDurableOps(): string[] {
  const events: string[] = [];
  const rel = (p: string) => {
    const r = path.relative(backend.root, p) || '.';
    return r.startsWith(`${TEMP_DIR}/`) ? `${TEMP_DIR}/*` : r;
  };
  const { syncFile, rename, syncDirectory } = durableOps;
  vi.spyOn(durableOps, 'syncFile').mockImplementation(async (handle, file) => {
    await syncFile(handle, file);
    events.push(`sync-file ${rel(file)}`);
  });
  vi.spyOn(durableOps, 'rename').mockImplementation(async (from, to) => {
    await rename(from, to);
    events.push(`rename ${rel(from)} -> ${rel(to)}`);
  });
  vi.spyOn(durableOps, 'syncDirectory').mockImplementation(async (dir) => {
    await syncDirectory(dir);
    events.push(`sync-dir ${rel(dir)}`);
  });
  return events;
}

/** Directories are synced at once, in no set order: sort each run of sync-dir events. */
function inOrder(events: string[]): string[] {
  const out: string[] = [];
  let run: string[] = [];
  for (const event of [...events, '']) {
    if (event.startsWith('sync-dir ')) {
      run.push(event);
      continue;
    }
    out.push(...run.sort());
    run = [];
    if (event) out.push(event);
  }
  return out;
}

async function writeAll(driver: FilesystemDriver, key: string, chunks: Buffer[], options: { append?: boolean } = {}): Promise<void> {
  const writer = await driver.writer(key, options);
  await pipeline(Readable.from(chunks), writer.stream);
  await writer.commit();
}

describe('filesystem driver durability', () => {
  it('putContent syncs the file before the rename and every changed directory after it', async () => {
    const driver = new FilesystemDriver(backend.root);
    const events = recordDurableOps();
    await driver.putContent('a/b/c', 'one');
    // a/ and a/b/ are new: each is an entry in its parent, so the root and a/ are synced too.
    expect(inOrder(events)).toEqual(['sync-file _tmp/*', 'rename _tmp/* -> a/b/c', 'sync-dir .', 'sync-dir a', 'sync-dir a/b']);
    events.length = 0;
    await driver.putContent('a/b/d', 'two');
    expect(events).toEqual(['sync-file _tmp/*', 'rename _tmp/* -> a/b/d', 'sync-dir a/b']);
  });

  it('a writer syncs its file when the stream ends, and commit renames, then syncs the directories', async () => {
    const driver = new FilesystemDriver(backend.root);
    const events = recordDurableOps();
    const writer = await driver.writer('blobs/x/data');
    await pipeline(Readable.from([Buffer.alloc(300 * 1024, 1), Buffer.from('end')]), writer.stream);
    expect(events).toEqual(['sync-file _tmp/*']);
    await writer.commit();
    expect(inOrder(events)).toEqual(['sync-file _tmp/*', 'rename _tmp/* -> blobs/x/data', 'sync-dir .', 'sync-dir blobs', 'sync-dir blobs/x']);
  });

  it('appends are not synced; move syncs the data before the rename and the target directories after it', async () => {
    const driver = new FilesystemDriver(backend.root);
    await driver.putContent('blobs/keep', 'x');
    const events = recordDurableOps();
    await writeAll(driver, 'uploads/u1/data', [Buffer.from('chunk one')], { append: true });
    await writeAll(driver, 'uploads/u1/data', [Buffer.from('chunk two')], { append: true });
    expect(events).toEqual([]);
    await driver.move('uploads/u1/data', 'blobs/ab/cdef/data');
    expect(inOrder(events)).toEqual([
      'sync-file uploads/u1/data',
      'rename uploads/u1/data -> blobs/ab/cdef/data',
      'sync-dir blobs',
      'sync-dir blobs/ab',
      'sync-dir blobs/ab/cdef',
    ]);
  });

  it('never shows a file under its key before its bytes are on disk', async () => {
    const driver = new FilesystemDriver(backend.root);
    const content = Buffer.alloc(1024 * 1024, 7);
    await writeAll(driver, 'upload/data', [content], { append: true });
    const writes: Array<[string, () => Promise<void>]> = [
      ['put', () => driver.putContent('k/put', content)],
      ['writer', () => writeAll(driver, 'k/writer', [content.subarray(0, 512 * 1024), content.subarray(512 * 1024)])],
      ['moved', () => driver.move('upload/data', 'k/moved')],
    ];
    for (const [name, write] of writes) {
      // Hold the sync: whatever happens while it is held is what a power loss could expose.
      let entered!: () => void;
      const syncing = new Promise<void>((resolve) => (entered = resolve));
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const { syncFile } = durableOps;
      const spy = vi.spyOn(durableOps, 'syncFile').mockImplementation(async (handle, file) => {
        entered();
        await released;
        await syncFile(handle, file);
      });
      const done = write();
      expect(await Promise.race([syncing.then(() => 'syncing'), done.then(() => 'finished without a sync')])).toBe('syncing');
      expect(await driver.list('k')).not.toContain(name);
      await expect(driver.stat(`k/${name}`)).rejects.toBeInstanceOf(NotFoundError);
      release();
      await done;
      spy.mockRestore();
    }
    expect((await driver.getContent('k/put')).equals(content)).toBe(true);
    expect((await driver.getContent('k/writer')).equals(content)).toBe(true);
    expect((await driver.getContent('k/moved')).equals(content)).toBe(true);
  });

  it('syncs nothing with fsync off', async () => {
    const driver = new FilesystemDriver(backend.root, { fsync: false });
    const events = recordDurableOps();
    await driver.putContent('a/b', 'x');
    await writeAll(driver, 'a/c', [Buffer.from('y')]);
    await writeAll(driver, 'a/d', [Buffer.from('z')], { append: true });
    await driver.move('a/d', 'e/f');
    expect(events).toEqual(['rename _tmp/* -> a/b', 'rename _tmp/* -> a/c', 'rename a/d -> e/f']);
    expect((await driver.getContent('e/f')).toString()).toBe('z');
  });

  it('syncs by default, and storage.filesystem.fsync: false turns it off', async () => {
    const config = (filesystem?: Record<string, unknown>) => configFrom({ storage: { filesystem: { rootdirectory: backend.root, ...filesystem } } });
    expect((await driverFromConfig(configFrom({}))) as FilesystemDriver).toMatchObject({ fsync: true });
    expect((await driverFromConfig(config())) as FilesystemDriver).toMatchObject({ fsync: true });
    expect((await driverFromConfig(config({ fsync: false }))) as FilesystemDriver).toMatchObject({ fsync: false });
  });
});

describe('filesystem driver temporary files', () => {
  it('writes in flight live in _tmp/, which no key can reach', async () => {
    const driver = new FilesystemDriver(backend.root);
    const writer = await driver.writer('repositories/app/_layers/link');
    await new Promise<void>((resolve, reject) => writer.stream.write(Buffer.from('in flight'), (err) => (err ? reject(err) : resolve())));
    expect(await fsp.readdir(path.join(backend.root, TEMP_DIR))).toHaveLength(1);
    await expect(fsp.readdir(path.join(backend.root, 'repositories'))).rejects.toMatchObject({ code: 'ENOENT' });
    for (const call of [
      () => driver.list(TEMP_DIR),
      () => driver.delete(TEMP_DIR),
      () => driver.putContent(`${TEMP_DIR}/x`, 'x'),
      () => driver.stat(`${TEMP_DIR}/x`),
    ]) {
      await expect(call()).rejects.toThrow(/reserved for temporary files/);
    }
    await writer.abort();
    expect(await fsp.readdir(path.join(backend.root, TEMP_DIR))).toEqual([]);
  });

  it('check() deletes temporary files a dead process left more than a day ago, and keeps newer ones', async () => {
    const dead = new FilesystemDriver(backend.root);
    for (const key of ['k/one', 'k/two']) {
      const writer = await dead.writer(key);
      await new Promise<void>((resolve, reject) => writer.stream.write(Buffer.from('partial'), (err) => (err ? reject(err) : resolve())));
      writer.stream.destroy(); // killed: neither commit nor abort
      await new Promise((resolve) => writer.stream.once('close', resolve));
    }
    const tempDir = path.join(backend.root, TEMP_DIR);
    // Either one: which temporary file belongs to which key does not matter here.
    const [oldFile, recentFile] = await fsp.readdir(tempDir).then((names) => names.map((n) => path.join(tempDir, n)));
    const longAgo = new Date(Date.now() - TEMP_MAX_AGE_MS - 60_000);
    await fsp.utimes(oldFile, longAgo, longAgo);

    const restarted = new FilesystemDriver(backend.root);
    await restarted.check();
    expect(await fsp.readdir(tempDir)).toEqual([path.basename(recentFile)]);
    expect(await restarted.list('k')).toEqual([]);
  });
});
