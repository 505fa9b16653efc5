// `stowage scrub` output and exit status: leftovers of killed writes are listed and counted but
// are not corruption (exit 0); a blob whose bytes changed is (exit 1).
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { pushBlob } from '../helpers/images.js';
import { randomBlob } from '../helpers/content.js';
import { blobDataKey, blobDirKey } from '../../storage/layout.js';
import { scrubCommand } from '../../server/commands/scrub.js';

describe('stowage scrub', () => {
  const registry = useTestRegistry(filesystemDriverFactory);

  async function scrub(json = false): Promise<{ status: number; lines: string[] }> {
    const lines: string[] = [];
    const status = await scrubCommand(registry().storage, json, (line) => lines.push(line));
    return { status, lines };
  }

  it('lists leftovers of killed writes with a count and exits 0; corruption exits 1', async () => {
    const reg = registry();
    const blob = randomBlob(300, 81);
    await pushBlob(reg, 'team/app', blob);
    // An old version's temporary file beside good data, one alone, and the empty directory a
    // write killed between its mkdir and its rename leaves.
    const beside = `${blobDirKey(blob.digest)}/data.tmp-00112233aabb`;
    const alone = `${blobDirKey(randomBlob(10, 82).digest)}/data.tmp-445566778899`;
    const empty = blobDirKey(randomBlob(10, 83).digest);
    for (const key of [beside, alone]) {
      await fsp.mkdir(path.dirname(path.join(reg.root, key)), { recursive: true });
      await fsp.writeFile(path.join(reg.root, key), 'part');
    }
    await fsp.mkdir(path.join(reg.root, empty), { recursive: true });

    const clean = await scrub();
    expect(clean.status).toBe(0);
    expect(clean.lines.filter((l) => l.startsWith('leftover: ')).sort()).toEqual([alone, beside, empty].map((k) => `leftover: ${k}`).sort());
    expect(clean.lines.at(-1)).toBe('1 blobs checked (300 bytes), 0 corrupt, 3 leftovers of interrupted writes (safe to delete)');
    const json = await scrub(true);
    expect(JSON.parse(json.lines[0])).toMatchObject({ checked: 1, corrupt: [], leftovers: expect.arrayContaining([alone, beside, empty]) });

    await reg.storage.driver.putContent(blobDataKey(blob.digest), 'bit rot');
    const rotten = await scrub();
    expect(rotten.status).toBe(1);
    expect(rotten.lines[0]).toMatch(new RegExp(`^corrupt: ${blob.digest} \\(content hashes to sha256:`));
  });
});
