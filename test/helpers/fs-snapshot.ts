// Every file under a directory as relative path -> sha256 of its content ("dir" for a directory,
// whose path ends in "/"), to show that a request or a process changed nothing stored.
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

/** Entries removed while the walk runs (an upload being cancelled) are left out. */
export async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const vanished = (err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  };
  const walk = async (current: string): Promise<void> => {
    const entries = await fsp.readdir(current, { withFileTypes: true }).catch((err: unknown) => (vanished(err), []));
    for (const entry of entries) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) {
        out.set(`${path.relative(dir, full)}/`, 'dir');
        await walk(full);
      } else {
        const bytes = await fsp.readFile(full).catch((err: unknown) => vanished(err));
        if (bytes) out.set(path.relative(dir, full), createHash('sha256').update(bytes).digest('hex'));
      }
    }
  };
  await walk(dir);
  return out;
}
