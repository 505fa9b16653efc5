// bench/RESULTS.md: the run's header (date, machine, command, conditions), the machine ceilings,
// one table row per workload metric with the ratio stowage / reference, stowage on S3 where it
// ran, and the fraction of the ceiling, the issues' targets marked met or missed, and every error.
import { formatNumber, medianOf, summarize, type Metric, type WorkloadResult } from './runner.js';

export interface RunInfo {
  date: string;
  command: string;
  machine: string;
  software: string[];
  conditions: string[];
  notes: string[];
}

export interface Section {
  title: string;
  markdown: string;
  /** The issue's targets this section decides (soak, clients). */
  targets?: TargetCheck[];
  /** Workloads the section ran apart from the table (s3rver alone): their errors are listed too. */
  results?: WorkloadResult[];
}

export interface TargetCheck {
  target: string;
  measured: string;
  verdict: 'met' | 'missed' | 'not measured';
}

function cell(result: WorkloadResult, target: string, metric: Metric): string {
  const outcome = result.outcomes.get(target);
  if (!outcome) return '';
  if (outcome.error) return '**error**';
  const s = summarize(outcome.samples[metric.key] ?? []);
  if (!s) return '';
  const f = (v: number) => formatNumber(v, metric.digits);
  return `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

function ratio(a: number | undefined, b: number | undefined): string {
  return a !== undefined && b !== undefined && b > 0 ? `${formatNumber(a / b, 2)}x` : '';
}

function ceilingOf(result: WorkloadResult, metric: Metric, ceilings: WorkloadResult | undefined): number | undefined {
  if (result.outcomes.has('node-http')) return medianOf(result, 'node-http', metric.key);
  return metric.ceiling ? medianOf(ceilings, 'machine', metric.ceiling) : undefined;
}

function resultsTable(results: WorkloadResult[], ceilings: WorkloadResult | undefined): string {
  const hasS3 = results.some((r) => r.outcomes.has('stowage-s3'));
  const s3Head = hasS3 ? ' stowage on S3 (s3rver) median (min–max) | S3 / reference |' : '';
  const rows = [
    `| workload | metric | stowage median (min–max) | reference median (min–max) | stowage / reference |${s3Head} ceiling | stowage / ceiling |`,
    `|---|---|---|---|---|${hasS3 ? '---|---|' : ''}---|---|`,
  ];
  for (const result of results) {
    for (const metric of result.metrics) {
      const stowage = medianOf(result, 'stowage', metric.key);
      const reference = medianOf(result, 'reference', metric.key);
      const ceiling = ceilingOf(result, metric, ceilings);
      const ceilingName = result.outcomes.has('node-http') ? 'bare Node http' : (metric.ceiling ?? '');
      const better = metric.better === 'higher' ? 'higher is better' : 'lower is better';
      const s3 = hasS3 ? ` ${cell(result, 'stowage-s3', metric)} | ${ratio(medianOf(result, 'stowage-s3', metric.key), reference)} |` : '';
      rows.push(
        `| ${result.title} | ${metric.label}, ${metric.unit} (${better}) | ${cell(result, 'stowage', metric)} | ${cell(result, 'reference', metric)} | ${ratio(stowage, reference)} |${s3} ${
          ceiling !== undefined ? `${formatNumber(ceiling, metric.digits)} (${ceilingName})` : ''
        } | ${metric.better === 'higher' ? ratio(stowage, ceiling) : ''} |`,
      );
    }
  }
  return rows.join('\n');
}

function ceilingTable(ceilings: WorkloadResult): string {
  const rows = ['| ceiling | median (min–max) |', '|---|---|'];
  for (const metric of ceilings.metrics) rows.push(`| ${metric.label} (${metric.key}), ${metric.unit} | ${cell(ceilings, 'machine', metric)} |`);
  return rows.join('\n');
}

function errors(results: WorkloadResult[]): string[] {
  const lines: string[] = [];
  for (const result of results) {
    for (const [target, outcome] of result.outcomes) if (outcome.error) lines.push(`- ${result.id} on ${target}: ${outcome.error}`);
  }
  return lines;
}

/** The issue's targets, judged on the medians. A workload in error counts as not measured. */
export function checkTargets(results: WorkloadResult[], ceilings: WorkloadResult | undefined): TargetCheck[] {
  const byId = new Map(results.map((r) => [r.id, r]));
  const checks: TargetCheck[] = [];
  const versus = (id: string, metric: string, factor: number, label: string) => {
    const r = byId.get(id);
    const s = medianOf(r, 'stowage', metric);
    const ref = medianOf(r, 'reference', metric);
    if (s === undefined || ref === undefined) return checks.push({ target: label, measured: r ? 'error' : 'not run', verdict: 'not measured' });
    const x = s / ref;
    checks.push({ target: label, measured: `${formatNumber(x, 2)}x`, verdict: x >= factor ? 'met' : 'missed' });
  };
  const ofCeiling = (id: string, metric: string, fraction: number, label: string) => {
    const r = byId.get(id);
    const s = medianOf(r, 'stowage', metric);
    const m = r?.metrics.find((x) => x.key === metric);
    const c = r && m ? ceilingOf(r, m, ceilings) : undefined;
    if (s === undefined || c === undefined) return checks.push({ target: label, measured: r ? 'error' : 'not run', verdict: 'not measured' });
    checks.push({ target: label, measured: `${formatNumber((100 * s) / c, 0)}%`, verdict: s / c >= fraction ? 'met' : 'missed' });
  };
  versus('manifest-get', 'rps', 10, 'Manifest GET by tag >= 10x reference req/s');
  ofCeiling('manifest-get', 'rps', 0.7, 'Manifest GET by tag >= 70% of bare Node http');
  versus('manifest-head', 'rps', 10, 'Manifest HEAD by tag >= 10x reference req/s');
  ofCeiling('manifest-head', 'rps', 0.7, 'Manifest HEAD by tag >= 70% of bare Node http');
  versus('tags-list', 'rps', 5, 'Tags list >= 5x reference');
  versus('catalog', 'rps', 5, '_catalog >= 5x reference');
  versus('push-small', 'ops', 3, 'Small-blob push >= 3x reference');
  versus('manifest-put', 'ops', 3, 'Manifest PUT >= 3x reference');
  versus('push-monolithic', 'mbps', 1, 'Monolithic blob push >= 1.0x reference');
  versus('push-chunked', 'mbps', 1, 'Chunked blob push >= 1.0x reference');
  versus('pull-1', 'mbps', 1, 'Blob pull, concurrency 1 >= 1.0x reference');
  const pull16 = results.find((r) => r.id.startsWith('pull-') && r.id !== 'pull-1')?.id ?? 'pull-16';
  versus(pull16, 'mbps', 1, 'Blob pull, concurrency 16 >= 1.0x reference');
  ofCeiling(pull16, 'mbps', 0.8, 'Blob pull, concurrency 16 >= 80% of the loopback ceiling');
  {
    // skopeo is timed, lower is better: speed-up = reference time / stowage time.
    const r = byId.get('skopeo-copy');
    const s = medianOf(r, 'stowage', 'seconds');
    const ref = medianOf(r, 'reference', 'seconds');
    if (s === undefined || ref === undefined)
      checks.push({ target: 'skopeo copy >= 1.0x reference', measured: r ? 'error' : 'not run', verdict: 'not measured' });
    else
      checks.push({
        target: 'skopeo copy >= 1.0x reference',
        measured: `${formatNumber(ref / s, 2)}x (time ratio reference / stowage)`,
        verdict: ref / s >= 1 ? 'met' : 'missed',
      });
  }
  {
    const s = medianOf(byId.get(pull16), 'stowage', 'rssMiB');
    const max = byId.get(pull16)?.outcomes.get('stowage')?.samples.rssMiB;
    const worst = max && max.length ? Math.max(...max) : undefined;
    if (s === undefined || worst === undefined)
      checks.push({
        target: 'Peak RSS during the 16-way pull <= 150 MiB',
        measured: byId.has(pull16) ? 'error' : 'not run',
        verdict: 'not measured',
      });
    else
      checks.push({
        target: 'Peak RSS during the 16-way pull <= 150 MiB',
        measured: `${formatNumber(worst, 0)} MiB (worst round)`,
        verdict: worst <= 150 ? 'met' : 'missed',
      });
  }
  {
    const r = byId.get('startup');
    const s = medianOf(r, 'stowage', 'ms');
    const ref = medianOf(r, 'reference', 'ms');
    if (s === undefined || ref === undefined)
      checks.push({ target: 'Start-up within 2x of the reference', measured: r ? 'error' : 'not run', verdict: 'not measured' });
    else
      checks.push({
        target: 'Start-up within 2x of the reference',
        measured: `${formatNumber(s / ref, 2)}x (${formatNumber(s, 0)} ms vs ${formatNumber(ref, 0)} ms)`,
        verdict: s <= 2 * ref ? 'met' : 'missed',
      });
  }
  checks.push(...proxyTargets(results));
  return checks;
}

/** Issue 4's warm-pull target in one workload: stowage's median time against the reference's. */
function warmPullTarget(results: WorkloadResult[], id: string, where: string): TargetCheck {
  const label = `Proxy: warm pull faster than the reference, ${where} (issue 4)`;
  const r = results.find((x) => x.id === id);
  const s = medianOf(r, 'stowage', 'warm');
  const ref = medianOf(r, 'reference', 'warm');
  if (s === undefined || ref === undefined) return { target: label, measured: r ? 'error' : 'not run', verdict: 'not measured' };
  // Faster means by a 2% margin on the medians and in every round, compared pairwise: the rounds
  // are interleaved, so a round's two pulls share the machine's state while the machine drifts
  // from round to round (which makes min–max ranges overlap even when one side always wins).
  // Five wins of five is a sign test at p = 0.03.
  const x = ref / s;
  const ours = r!.outcomes.get('stowage')!.samples.warm;
  const theirs = r!.outcomes.get('reference')!.samples.warm;
  const rounds = Math.min(ours.length, theirs.length);
  const wins = ours.slice(0, rounds).filter((v, i) => v < theirs[i]).length;
  const [a, b] = [summarize(ours)!, summarize(theirs)!];
  const overlap = a.min <= b.max && b.min <= a.max ? '; min–max ranges overlap' : '; min–max ranges apart';
  return {
    target: label,
    measured: `${formatNumber(x, 3)}x (time ratio reference / stowage: ${formatNumber(s, 3)} s vs ${formatNumber(ref, 3)} s; stowage faster in ${wins} of ${rounds} interleaved rounds${overlap})`,
    verdict: x >= 1.02 && wins === rounds ? 'met' : 'missed',
  };
}

/** Issue 4's targets: the warm pull through the proxy, and what a many-way cold pull costs upstream. */
function proxyTargets(results: WorkloadResult[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  // On loopback an upstream round trip is free; 20 ms away is the nearest a real upstream gets.
  checks.push(warmPullTarget(results, 'proxy-pull', 'upstream on loopback'));
  checks.push(warmPullTarget(results, 'proxy-pull-rtt20', 'upstream 20 ms away'));
  {
    const r = results.find((x) => /^proxy-pull-\d+$/.test(x.id));
    const label = `Proxy: upstream bytes of the ${r ? r.id.slice('proxy-pull-'.length) : '16'}-way cold pull equal one copy of the image (issue 4)`;
    const outcome = r?.outcomes.get('stowage');
    const copies = outcome?.samples.copies ?? [];
    const gets = outcome?.samples.blobGets ?? [];
    const blobs = outcome?.samples.imageBlobs ?? [];
    if (!outcome || outcome.error || copies.length === 0) checks.push({ target: label, measured: r ? 'error' : 'not run', verdict: 'not measured' });
    else {
      // One copy: every blob fetched once (the manifest adds well under 0.1% of the bytes).
      const worst = Math.max(...copies);
      const oneGetEach = gets.every((g, i) => g === blobs[i]);
      const ref = medianOf(r, 'reference', 'copies');
      const measured = `worst round ${formatNumber(worst, 3)} copies, ${Math.max(...gets)} upstream blob GETs for ${blobs[0]} blobs${ref !== undefined ? `; reference ${formatNumber(ref, 2)} copies (median)` : ''}`;
      checks.push({ target: label, measured, verdict: worst <= 1.001 && oneGetEach ? 'met' : 'missed' });
    }
  }
  return checks;
}

export function renderReport(
  info: RunInfo,
  ceilings: WorkloadResult | undefined,
  results: WorkloadResult[],
  sections: Section[],
  targets: TargetCheck[],
): string {
  const allErrors = errors([...(ceilings ? [ceilings] : []), ...results, ...sections.flatMap((s) => s.results ?? [])]);
  const out: string[] = [
    '# Benchmark: stowage vs. the reference registry',
    '',
    'Written by `npm run bench` (bench/README.md); do not edit by hand.',
    '',
    `- Date: ${info.date}`,
    `- Command: \`${info.command}\``,
    `- Machine: ${info.machine}`,
    ...info.software.map((s) => `- ${s}`),
    ...info.conditions.map((c) => `- ${c}`),
    ...info.notes.map((n) => `- **Note:** ${n}`),
    '',
  ];
  if (ceilings) out.push('## Machine ceilings (same run)', '', ceilingTable(ceilings), '');
  out.push(
    '## Results',
    '',
    'Medians over the rounds, with min–max. Ratios are of the medians; for latency, time and memory a ratio below 1 means stowage is better. A cell marked **error** means a response failed its check: that figure does not count (see Errors).',
    '',
    resultsTable(results, ceilings),
    '',
  );
  out.push('## Targets', '', '| target | measured | verdict |', '|---|---|---|');
  for (const t of targets) out.push(`| ${t.target} | ${t.measured} | ${t.verdict} |`);
  out.push('');
  for (const section of sections) out.push(`## ${section.title}`, '', section.markdown, '');
  out.push('## Errors', '', allErrors.length ? allErrors.join('\n') : 'None: every response of every counted workload passed its checks.', '');
  return out.join('\n');
}
