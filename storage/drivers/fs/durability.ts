// The filesystem driver's durability steps. A write becomes visible by rename(2); for it to
// survive a power loss, the file's bytes must reach the disk before the rename (or the new name
// could point at a truncated file), and the directory after it (or the new name could vanish).
// These are the only calls that order that; a test replaces them to watch the order.
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

export const durableOps = {
  /** Flushes a file's bytes and size (fdatasync). */
  syncFile(handle: fsp.FileHandle, _file: string): Promise<void> {
    return handle.datasync();
  },

  rename(from: string, to: string): Promise<void> {
    return fsp.rename(from, to);
  },

  /** Flushes a directory's entries (fsync on a read-only descriptor, which Linux allows). */
  async syncDirectory(dir: string): Promise<void> {
    const handle = await fsp.open(dir, 'r');
    try {
      await handle.sync();
    } catch (err) {
      // Some filesystems (network, FUSE) cannot sync a directory; their rename is as durable as it gets.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    } finally {
      await handle.close();
    }
  },
};

/**
 * The directories whose entries changed when a file appeared in parent: parent itself, and, when
 * mkdir -p created directories (created is the first one, as fsp.mkdir returns it), each of
 * those in its own parent. Deepest first.
 */
export function changedDirectories(parent: string, created: string | undefined, root: string): string[] {
  const dirs = [parent];
  if (!created) return dirs;
  const stop = path.dirname(created);
  for (let dir = parent; dir !== stop && dir !== root && dir !== path.dirname(dir);) {
    dir = path.dirname(dir);
    dirs.push(dir);
  }
  return dirs;
}
