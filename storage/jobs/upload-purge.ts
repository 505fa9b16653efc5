// Purging stale upload sessions (Distribution's storage.maintenance.uploadpurging): a session
// whose start is older than the age limit is abandoned, and its bytes are deleted.
import type { RegistryStorage } from '../registry.js';
import { isNotFound } from '../errors.js';
import { uploadStartedAtKey } from '../layout.js';

export interface PurgeReport {
  purged: string[];
  kept: number;
}

export async function purgeUploads(storage: RegistryStorage, options: { olderThanMs: number; dryRun?: boolean; now?: Date }): Promise<PurgeReport> {
  const cutoff = (options.now ?? new Date()).getTime() - options.olderThanMs;
  const report: PurgeReport = { purged: [], kept: 0 };
  for (const name of await storage.catalog.repositoriesWithUploads()) {
    for (const id of await storage.uploads.list(name)) {
      let started: number;
      try {
        started = Date.parse((await storage.driver.getContent(uploadStartedAtKey(name, id))).toString('utf8'));
      } catch (err) {
        // A session without a start time (killed between its two writes) counts as ancient.
        if (!isNotFound(err)) continue;
        started = 0;
      }
      if (Number.isNaN(started) || started < cutoff) {
        report.purged.push(`${name}/${id}`);
        if (!options.dryRun) await storage.uploads.purge(name, id);
      } else {
        report.kept++;
      }
    }
  }
  return report;
}
