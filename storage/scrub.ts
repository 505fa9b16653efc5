// Scrubbing: re-hash every blob in the content store and report those whose bytes no longer
// match their address (disk corruption, a hand edit). It reads; it never deletes.
import type { RegistryStorage } from './registry.js';
import { blobDataKey, blobListingPrefix } from './layout.js';
import { digestOfStream } from './hashing.js';
import { parseDigest } from './grammar.js';

export interface ScrubReport {
  checked: number;
  bytes: number;
  corrupt: Array<{ digest: string; actual: string }>;
}

export async function scrubBlobs(storage: RegistryStorage, onProgress?: (digest: string) => void): Promise<ScrubReport> {
  const report: ScrubReport = { checked: 0, bytes: 0, corrupt: [] };
  for (const algorithm of await storage.driver.list(blobListingPrefix())) {
    for (const shard of await storage.driver.list(blobListingPrefix(algorithm))) {
      for (const hex of await storage.driver.list(blobListingPrefix(algorithm, shard))) {
        const digest = `${algorithm}:${hex}`;
        const parsed = parseDigest(digest);
        if (!parsed) {
          report.corrupt.push({ digest, actual: 'not a valid digest' });
          continue;
        }
        const { digest: actual, size } = await digestOfStream(await storage.driver.read(blobDataKey(digest)), parsed.algorithm);
        report.checked++;
        report.bytes += size;
        if (actual !== digest) report.corrupt.push({ digest, actual });
        onProgress?.(digest);
      }
    }
  }
  return report;
}
