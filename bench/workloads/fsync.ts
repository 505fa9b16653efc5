// What syncing to disk costs (--fsync-cost): the write workloads also run on stowage with
// `storage.filesystem.fsync: false`, interleaved with the others, and a section sets the two
// stowage figures side by side. Opt-in, because builds before the setting existed refuse it.
import type { Section } from '../report.js';
import { formatNumber, medianOf, summaryCell, type WorkloadResult } from '../runner.js';

export const NO_FSYNC = 'stowage-nofsync';
/** The workloads that write, where syncing can cost anything. */
export const FSYNC_COLUMN = ['push-monolithic', 'push-chunked', 'push-small', 'manifest-put'];

const cell = summaryCell;

export function fsyncSection(results: WorkloadResult[]): Section {
  const rows = [
    '| workload | metric | stowage, fsync on (default) | stowage, fsync off | on / off | reference (Distribution 2.8.2) |',
    '|---|---|---|---|---|---|',
  ];
  for (const result of results.filter((r) => r.outcomes.has(NO_FSYNC))) {
    for (const metric of result.metrics) {
      const on = medianOf(result, 'stowage', metric.key);
      const off = medianOf(result, NO_FSYNC, metric.key);
      const ratio = on !== undefined && off !== undefined && off > 0 ? `${formatNumber(on / off, 2)}x` : '';
      rows.push(
        `| ${result.title} | ${metric.label}, ${metric.unit} (${metric.better} is better) | ${cell(result, 'stowage', metric.key, metric.digits)} | ${cell(result, NO_FSYNC, metric.key, metric.digits)} | ${ratio} | ${cell(result, 'reference', metric.key, metric.digits)} |`,
      );
    }
  }
  const markdown = [
    "stowage syncs a blob's or link's bytes before the rename that makes it visible and the directory after it (README, Storage); " +
      `the third target is the same build with \`storage.filesystem.fsync: false\`, interleaved in the same rounds on the same disk. The reference syncs each file it writes (Distribution's filesystem driver calls Sync on a writer's Close and Commit), not directories.`,
    '',
    rows.join('\n'),
  ];
  return { title: 'What syncing to disk costs (--fsync-cost)', markdown: markdown.join('\n') };
}
