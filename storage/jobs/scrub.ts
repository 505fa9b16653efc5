// Scrubbing: re-hash every blob in the content store and report those whose bytes no longer
// match their address (disk corruption, a hand edit). It reads; it never deletes.
// A blob directory may also hold what a killed write left: a temporary file written beside the
// data by versions before the filesystem driver's _tmp/ directory, or an empty directory. Those
// are reported as leftovers, apart from corruption: no blob was ever visible there.
import type { RegistryStorage } from '../registry.js';
import { blobDataKey, blobDirKey, blobListingPrefix } from '../layout.js';
import { digestOfStream } from '../hashing.js';
import { parseDigest } from '../grammar.js';
import { isNotFound } from '../errors.js';

const DATA = 'data';

export interface ScrubReport {
  checked: number;
  bytes: number;
  corrupt: Array<{ digest: string; actual: string }>;
  /** Storage keys in the content store that are not blob data (safe to delete). */
  leftovers: string[];
}

export async function scrubBlobs(storage: RegistryStorage, onProgress?: (digest: string) => void): Promise<ScrubReport> {
  const { driver } = storage;
  const report: ScrubReport = { checked: 0, bytes: 0, corrupt: [], leftovers: [] };
  for (const algorithm of await driver.list(blobListingPrefix())) {
    for (const shard of await driver.list(blobListingPrefix(algorithm))) {
      for (const hex of await driver.list(blobListingPrefix(algorithm, shard))) {
        const digest = `${algorithm}:${hex}`;
        const parsed = parseDigest(digest);
        if (!parsed) {
          report.corrupt.push({ digest, actual: 'not a valid digest' });
          continue;
        }
        const dir = blobDirKey(digest);
        const entries = await driver.list(dir);
        for (const entry of entries) if (entry !== DATA) report.leftovers.push(`${dir}/${entry}`);
        if (entries.length === 0) report.leftovers.push(dir);
        if (!entries.includes(DATA)) continue;
        let actual: string;
        let size: number;
        try {
          ({ digest: actual, size } = await digestOfStream(await driver.read(blobDataKey(digest)), parsed.algorithm));
        } catch (err) {
          // Collected (gc) since the listing: nothing to check.
          if (isNotFound(err)) continue;
          throw err;
        }
        report.checked++;
        report.bytes += size;
        if (actual !== digest) report.corrupt.push({ digest, actual });
        onProgress?.(digest);
      }
    }
  }
  return report;
}
