// Start-up: time from spawning the server (fresh empty data directory, new port) to its first
// 200 answer to GET /v2/, polled every 2 ms. Each round starts and stops a new process. stowage
// is started as the package's bin runs it (node dist/stowage.mjs serve) and by `npm start`;
// a bare Node http server shows what Node itself takes before any code of ours runs.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext } from '../context.js';
import type { Workload } from '../runner.js';
import { LABELS, launchNodeFloor, launchRegistry } from '../servers.js';
import type { Section } from '../report.js';
import { formatNumber, medianOf, summaryCell, type WorkloadResult } from '../runner.js';

export function startupWorkload({ workDir, options }: BenchContext): Workload<{ name: string }> {
  return {
    id: 'startup',
    title: 'Start-up to the first GET /v2/ 200 (fresh data directory)',
    metrics: [{ key: 'ms', label: 'time to ready', unit: 'ms', better: 'lower' }],
    targets: ['stowage', 'stowage-npm', 'node-floor', 'reference'],
    async run(target, round) {
      const id = `startup-${target.name}-${round}`;
      const server =
        target.name === 'node-floor'
          ? await launchNodeFloor(workDir, id)
          : target.name === 'reference'
            ? await launchRegistry('reference', workDir, id)
            : await launchRegistry('stowage', workDir, id, {
                stowageCli: options.stowageCli,
                name: target.name,
                launcher: target.name === 'stowage-npm' ? 'npm' : 'node',
              });
      await server.stop();
      rmSync(join(workDir, id), { recursive: true, force: true });
      return { ms: server.readyMs };
    },
  };
}

/** Start-up by how stowage is started, beside Node's own floor and the reference. */
export function startupSection(result: WorkloadResult | undefined): Section | undefined {
  if (!result) return undefined;
  const reference = medianOf(result, 'reference', 'ms');
  const rows = ['| started as | time to ready, ms (lower is better) | / reference |', '|---|---|---|'];
  for (const name of ['stowage', 'stowage-npm', 'node-floor', 'reference']) {
    if (!result.outcomes.has(name)) continue;
    const median = medianOf(result, name, 'ms');
    const label = {
      stowage: '`node dist/stowage.mjs serve` (the bin, the container)',
      'stowage-npm': '`npm start`',
      'node-floor': LABELS['node-floor'],
      reference: LABELS.reference,
    }[name];
    const ratio = median !== undefined && reference !== undefined && reference > 0 ? `${formatNumber(median / reference, 2)}x` : '';
    rows.push(`| ${label} | ${summaryCell(result, name, 'ms')} | ${ratio} |`);
  }
  const markdown = [
    'Each round starts a new process on a fresh data directory and times it to its first 200 for `GET /v2/`. ' +
      "stowage's time includes creating its metadata database (the migrations) and storage layout; " +
      "the bare Node http server is Node's start-up with nothing of ours, the floor any Node server starts from.",
    '',
    rows.join('\n'),
  ];
  return { title: 'Start-up, by how it is started', markdown: markdown.join('\n') };
}
