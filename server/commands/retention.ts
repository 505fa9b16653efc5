// `stowage retention run [--dry-run] [--json] [--now TIME]`: the retention policies
// (stowage.retention) run on the configured storage directly, safe while the server runs, as
// `stowage gc` is. Prints one row per tag or manifest deleted (or, dry, that would be) with the
// reason, then the totals. A real run follows the API's rules (refused read-only or with deletes
// disabled: exit 1). Exit status 0, 2 when the config has no stowage.retention, 75 when
// another collection holds the lease (the deletions are made; the blobs go with the next one).
import type { RegistryStorage } from '../../storage/registry.js';
import { runRetention, type RetentionReport } from '../../storage/retention/run.js';
import type { RegistryConfig } from '../config.js';
import { parseEvaluationTime, refuseRealRun, retentionSettings } from '../retention.js';
import { commandOrigin } from './audit.js';

type Print = (line: string) => void;

export interface RetentionCommandOptions {
  dryRun: boolean;
  json: boolean;
  /** "Evaluate as if at this time" (server/retention.ts parseEvaluationTime). */
  now?: string;
}

/** The report as an aligned table: one row per deletion, then the totals. */
export function retentionTable(report: RetentionReport): string[] {
  const rows = [['REPOSITORY', 'TAG', 'DIGEST', 'REASON']];
  for (const plan of report.repositories) {
    for (const t of plan.tagsDeleted) rows.push([plan.repository, t.tag, t.digest, t.reason]);
    for (const m of plan.manifestsDeleted) rows.push([plan.repository, '-', m.digest, m.reason]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.length > 1 ? rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ')) : [];
  const verb = report.dryRun ? 'would delete' : 'deleted';
  const kept = report.repositories.reduce((n, p) => n + p.tagsKept.length, 0);
  lines.push(
    `${report.repositories.length} repositories covered (evaluated at ${report.evaluatedAt}): ${verb} ${report.tagsDeleted} tags ` +
      `and ${report.manifestsDeleted} manifests, kept ${kept} tags`,
  );
  for (const s of report.skipped) lines.push(`left alone: ${s.repository} ${s.tag ?? s.digest}: ${s.reason}`);
  if (report.gc && 'skipped' in report.gc) lines.push(`garbage collection not run: ${report.gc.skipped}`);
  else if (report.gc) lines.push(`garbage collection: ${report.gc.blobsDeleted} blobs deleted, ${report.gc.bytesFreed} bytes freed`);
  return lines;
}

export async function retentionRunCommand(
  storage: RegistryStorage,
  config: RegistryConfig,
  options: RetentionCommandOptions,
  out: { print: Print; note: Print },
): Promise<number> {
  const settings = retentionSettings(config);
  if (!settings) {
    out.note('stowage: the configuration has no stowage.retention policies');
    return 2;
  }
  if (!options.dryRun) refuseRealRun(config);
  const now = options.now === undefined ? undefined : parseEvaluationTime(options.now);
  const report = await runRetention(storage, { ...settings, dryRun: options.dryRun, now, origin: commandOrigin() });
  if (options.json) out.print(JSON.stringify(report));
  else for (const line of retentionTable(report)) out.print(line);
  return report.gc && 'skipped' in report.gc ? 75 : 0;
}
