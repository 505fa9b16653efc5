// The scale workload's section of the results: how long each registry took to create, the large
// registry's figures side by side (stowage / reference), each request's p99 at the large size as
// a ratio to the small, and issue 14's targets judged on the medians.
import type { BenchContext } from '../context.js';
import type { Section, TargetCheck } from '../report.js';
import { formatNumber, medianOf, summarize, type Metric, type WorkloadResult } from '../runner.js';
import { LABELS } from '../servers.js';
import { describeShape } from './scale-registry.js';
import type { ScaleRequest } from './scale-requests.js';

/** One timed request in one condition; its result's title names both. */
export interface Timed {
  request: ScaleRequest;
  pushes: boolean;
  result: WorkloadResult;
}

/** Measurements as the runner keeps them (outcome keys: the column's name, "@small" appended for
 *  the small registry), so that the runner's summaries and the report's error list apply. */
export interface ScaleResults {
  create: WorkloadResult;
  startup: WorkloadResult;
  /** The deep pages, timed once right after each start-up. */
  cold: WorkloadResult;
  rss: WorkloadResult;
  /** The timed requests; listings twice: quiet, and while tags are pushed (`pushes`). */
  requests: Timed[];
  gc: WorkloadResult;
  reindex: WorkloadResult;
}

function cell(result: WorkloadResult, key: string, metric: Metric, absent = ''): string {
  const outcome = result.outcomes.get(key);
  if (!outcome) return absent;
  if (outcome.error) return '**error**';
  const s = summarize(outcome.samples[metric.key] ?? []);
  if (!s) return absent;
  const f = (v: number) => formatNumber(v, metric.digits);
  return s.n === 1 ? f(s.median) : `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

function ratio(a: number | undefined, b: number | undefined): string {
  return a !== undefined && b !== undefined && b > 0 ? `${formatNumber(a / b, 2)}x` : '';
}

function worst(result: WorkloadResult, key: string, metric: string): number | undefined {
  const outcome = result.outcomes.get(key);
  const values = outcome && !outcome.error ? (outcome.samples[metric] ?? []) : [];
  return values.length ? Math.max(...values) : undefined;
}

const label = (name: string) => LABELS[name] ?? name;

/** `names`: the columns that ran, in order (stowage, reference, then stowage on S3 + PostgreSQL). */
export function scaleSection({ options }: BenchContext, results: ScaleResults, names: string[], notes: string[]): Section {
  const { large, small, connections, createConcurrency } = options.scale;
  const others = names.filter((n) => n !== 'reference' && names.includes('reference'));
  const out: string[] = [
    `Each registry is filled through the HTTP API, ${createConcurrency} requests at once (unless noted below): the large one with ${describeShape(large)}, the small one with ${describeShape(small)}. Every tag points at one small manifest (a 1 KiB layer and a config, pushed once and mounted into every repository). ` +
      `Timed requests: a Node client with ${connections} keep-alive connections starts requests for ${options.wrk.seconds} s per round and then waits for those in flight (a slow answer counts, it is not cut off); ${options.rounds} round${options.rounds === 1 ? '' : 's'}, every registry in turn, small and large registries running side by side. ` +
      'p50 and p99 are per round; cells show the median over rounds (min–max). Every answer is checked: one in full (the exact names, in order), the rest by status and length. ' +
      'Stowage keeps listings in memory for `stowage.cache.ttl` (2 s by default) until a write invalidates them, so under a quiet load most answers come from that cache and the p99 catches its refreshes. Each listing is therefore timed twice: quiet, and with a tag of the big repository re-pushed (the same manifest, so no listing changes) every 100 ms meanwhile, as on a registry in use; and the two deep pages are also timed once right after each start-up, before anything is cached. ' +
      'Start-up: spawn to the first 200 on `GET /v2/` over the existing data. Peak RSS is the registry process (VmHWM and samples every 200 ms), not s3rver or PostgreSQL.',
    '',
    '### Creating the registries',
    '',
    '| registry | size | creation time, s | requests/s | peak RSS during creation, MiB |',
    '|---|---|---|---|---|',
  ];
  const [seconds, rps, createRss] = results.create.metrics;
  for (const name of names) {
    for (const [key, shape] of [
      [`${name}@small`, small],
      [name, large],
    ] as const) {
      out.push(
        `| ${label(name)} | ${describeShape(shape)} | ${cell(results.create, key, seconds)} | ${cell(results.create, key, rps)} | ${cell(results.create, key, createRss)} |`,
      );
    }
  }

  out.push(
    '',
    `### At ${describeShape(large)}`,
    '',
    `| measurement | ${names.map(label).join(' | ')} |${others.map((n) => ` ${label(n)} / reference |`).join('')}`,
    `|---|${names.map(() => '---|').join('')}${others.map(() => '---|').join('')}`,
  );
  const row = (result: WorkloadResult, metric: Metric, title: string, absent: (name: string) => string = () => '') => {
    const better = metric.better === 'higher' ? 'higher is better' : 'lower is better';
    const cells = names.map((n) => cell(result, n, metric, absent(n)));
    const ratios = others.map((n) => ratio(medianOf(result, n, metric.key), medianOf(result, 'reference', metric.key)));
    out.push(`| ${title}, ${metric.unit} (${better}) | ${cells.join(' | ')} |${ratios.map((r) => ` ${r} |`).join('')}`);
  };
  row(results.startup, results.startup.metrics[0], 'start-up over the data');
  for (const metric of results.cold.metrics) row(results.cold, metric, metric.label);
  row(results.rss, results.rss.metrics[0], 'peak RSS while serving the timed requests');
  for (const { result } of results.requests) for (const metric of result.metrics) row(result, metric, `${result.title}: ${metric.label}`);
  const [gcSeconds, gcPushes, gcRss] = results.gc.metrics;
  const stopped = (n: string) => (n === 'reference' ? 'none (registry stopped)' : '');
  row(
    results.gc,
    gcSeconds,
    `GC of the whole registry${names.includes('reference') ? ' (the reference stopped, as its garbage-collect requires)' : ''}`,
  );
  row(results.gc, gcPushes, 'pushes acknowledged during GC, all read back afterwards', stopped);
  row(results.gc, gcRss, 'GC process peak RSS');
  row(results.reindex, results.reindex.metrics[0], '`stowage reindex`', (n) => (n === 'reference' ? 'n/a' : 'not measured'));

  out.push(
    '',
    `### Large against small: p99 at ${formatNumber(large.repositories, 0)} repositories as a ratio to ${formatNumber(small.repositories, 0)}`,
    '',
    '| request | registry | p99 small, ms | p99 large, ms | large / small | req/s small | req/s large |',
    '|---|---|---|---|---|---|---|',
  );
  const [rpsMetric, , p99Metric] = results.requests[0]?.result.metrics ?? [];
  for (const { result } of results.requests) {
    for (const n of names) {
      const ratioText = ratio(medianOf(result, n, 'p99'), medianOf(result, `${n}@small`, 'p99'));
      out.push(
        `| ${result.title} | ${label(n)} | ${cell(result, `${n}@small`, p99Metric)} | ${cell(result, n, p99Metric)} | ${ratioText} | ${cell(result, `${n}@small`, rpsMetric)} | ${cell(result, n, rpsMetric)} |`,
      );
    }
  }
  if (notes.length) out.push('', ...notes.map((n) => `- ${n}`));

  return {
    title: `Scale (issue 14): ${describeShape(large)}`,
    markdown: out.join('\n'),
    targets: names
      .filter((n) => n !== 'reference')
      .flatMap((n) => scaleTargets(results, n, options.scale.large.repositories, options.scale.small.repositories)),
    results: [results.create, results.startup, results.cold, results.rss, ...results.requests.map((q) => q.result), results.gc, results.reindex],
  };
}

/** Issue 14's targets for one stowage column. */
function scaleTargets(results: ScaleResults, name: string, largeRepositories: number, smallRepositories: number): TargetCheck[] {
  const prefix = name === 'stowage' ? 'Scale' : `Scale, ${label(name)}`;
  const checks: TargetCheck[] = [];
  const notMeasured = (target: string) => checks.push({ target, measured: 'error or not run', verdict: 'not measured' });
  for (const { request, result } of results.requests) {
    if (request.listing) {
      const target = `${prefix}: ${result.title}, p99 at ${formatNumber(largeRepositories, 0)} repositories within 2x of ${formatNumber(smallRepositories, 0)}`;
      const big = medianOf(result, name, 'p99');
      const little = medianOf(result, `${name}@small`, 'p99');
      if (big === undefined || little === undefined) notMeasured(target);
      else
        checks.push({
          target,
          measured: `${formatNumber(big / little, 2)}x (${formatNumber(big, 2)} ms vs ${formatNumber(little, 2)} ms)`,
          verdict: big <= 2 * little ? 'met' : 'missed',
        });
    }
    const factor = request.listing ? 20 : 10;
    const target = `${prefix}: ${result.title}, >= ${factor}x reference req/s at the large size`;
    const ours = medianOf(result, name, 'rps');
    const theirs = medianOf(result, 'reference', 'rps');
    if (ours === undefined || theirs === undefined) notMeasured(target);
    else checks.push({ target, measured: `${formatNumber(ours / theirs, 2)}x`, verdict: ours >= factor * theirs ? 'met' : 'missed' });
  }
  {
    const target = `${prefix}: start-up under 1 s over ${formatNumber(largeRepositories, 0)} repositories`;
    const ms = medianOf(results.startup, name, 'ms');
    const max = worst(results.startup, name, 'ms');
    if (ms === undefined || max === undefined) notMeasured(target);
    else
      checks.push({ target, measured: `${formatNumber(ms, 0)} ms (worst round ${formatNumber(max, 0)} ms)`, verdict: ms < 1000 ? 'met' : 'missed' });
  }
  {
    const target = `${prefix}: peak RSS under 256 MiB (creation and serving)`;
    const created = worst(results.create, name, 'rssMiB');
    const serving = worst(results.rss, name, 'rssMiB');
    if (created === undefined || serving === undefined) notMeasured(target);
    else {
      const peak = Math.max(created, serving);
      checks.push({
        target,
        measured: `${formatNumber(peak, 0)} MiB (creation ${formatNumber(created, 0)}, serving ${formatNumber(serving, 0)})`,
        verdict: peak < 256 ? 'met' : 'missed',
      });
    }
  }
  return checks;
}
