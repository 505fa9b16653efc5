// `stowage scrub`: re-hash every blob (storage/jobs/scrub.ts) and print what it found. Corruption is
// exit status 1; leftovers of killed writes are listed but are no fault of the data (exit 0).
import type { RegistryStorage } from '../../storage/registry.js';
import { scrubBlobs } from '../../storage/jobs/scrub.js';

type Print = (line: string) => void;

/** Runs the scrub and prints its report; resolves with the exit status. */
export async function scrubCommand(storage: RegistryStorage, json: boolean, print: Print): Promise<number> {
  const report = await scrubBlobs(storage);
  if (json) print(JSON.stringify(report));
  else {
    for (const c of report.corrupt) print(`corrupt: ${c.digest} (content hashes to ${c.actual})`);
    for (const key of report.leftovers) print(`leftover: ${key}`);
    print(
      `${report.checked} blobs checked (${report.bytes} bytes), ${report.corrupt.length} corrupt, ` +
        `${report.leftovers.length} leftovers of interrupted writes (safe to delete)`,
    );
  }
  return report.corrupt.length > 0 ? 1 : 0;
}
