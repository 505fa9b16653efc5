// `stowage reindex [--verify]`: rebuilds the metadata database from storage (storage/metadata/
// reindex.ts), or only compares the two (storage/metadata/verify.ts) and prints every difference,
// one per line, exit status 1 if there is any.
import type { RegistryStorage } from '../../storage/registry.js';
import { reindex } from '../../storage/metadata/reindex.js';
import { verifyMetadata, type Difference, type Side } from '../../storage/metadata/verify.js';
import type { RegistryConfig } from '../config.js';
import { upstreamSettings } from '../proxy-from-config.js';

type Print = (line: string) => void;

export interface ReindexCommandOptions {
  verify: boolean;
  json: boolean;
  /** Where the summary of --verify goes (stderr), so that stdout holds the differences only. */
  note: Print;
}

/** Runs reindex or its verification; resolves with the exit status. */
export async function reindexCommand(
  storage: RegistryStorage,
  config: RegistryConfig,
  options: ReindexCommandOptions,
  print: Print,
): Promise<number> {
  const metadata = storage.metadata;
  if (!metadata) throw new Error('reindex needs the metadata database (stowage.database.url)');
  const cachedRepository = pullThroughCache(config);
  if (options.verify) {
    const summary = await verifyMetadata(storage, metadata, (d) => print(options.json ? JSON.stringify(d) : describeDifference(d)), {
      cachedRepository,
    });
    options.note(
      `${summary.repositories} repositories, ${summary.manifests} manifests and ${summary.tags} tags in storage; ` +
        `${summary.differences} difference${summary.differences === 1 ? '' : 's'} from the database` +
        (summary.imported ? '' : ' (the database has never imported this storage: run stowage reindex)'),
    );
    return summary.differences > 0 ? 1 : 0;
  }
  const report = await reindex(storage, metadata, { cachedRepository });
  if (options.json) {
    print(JSON.stringify(report));
    return 0;
  }
  for (const skipped of report.skipped) print(`skipped: ${skipped}`);
  for (const removed of report.removed) print(`removed: ${removed}`);
  print(
    `${report.repositories} repositories, ${report.manifests} manifests, ${report.tags} tags indexed; ` +
      `${report.skipped.length} manifests skipped, ${report.removed.length} entries removed from the database, ` +
      `${report.settled} interrupted pushes settled (${(report.ms / 1000).toFixed(1)} s)`,
  );
  return 0;
}

/** Repositories of a pull-through cache (Distribution's proxy caches them all), whose manifests may lack blobs. */
function pullThroughCache(config: RegistryConfig): (name: string) => boolean {
  const prefixes = upstreamSettings(config).map((s) => s.prefix);
  return (name) => prefixes.some((prefix) => prefix === '' || name === prefix || name.startsWith(`${prefix}/`));
}

const SIDE: Record<Side, string> = { storage: 'storage', database: 'the database' };
const OTHER: Record<Side, string> = { storage: 'the database', database: 'storage' };

/** One difference as one line. */
export function describeDifference(d: Difference): string {
  switch (d.kind) {
    case 'repository':
      return `repository ${d.repository}: in ${SIDE[d.only]}, not in ${OTHER[d.only]}`;
    case 'manifest':
      return `manifest ${d.repository}@${d.digest}: in ${SIDE[d.only]}, not in ${OTHER[d.only]}${d.why ? ` (${d.why})` : ''}`;
    case 'tag':
      if (d.storage && d.database) return `tag ${d.repository}:${d.tag}: points at ${d.storage} in storage, ${d.database} in the database`;
      return d.storage
        ? `tag ${d.repository}:${d.tag}: in storage (${d.storage}), not in the database`
        : `tag ${d.repository}:${d.tag}: in the database (${d.database}), not in storage`;
    case 'incomplete': {
      const what = d.what === 'bytes' ? 'its bytes are' : d.what === 'blob' ? `blob ${d.missing} is` : `child manifest ${d.missing} is`;
      return `manifest ${d.repository}@${d.digest}: listed in the database, but ${what} ${d.what === 'child' ? 'not listed' : 'missing from storage'}`;
    }
  }
}
