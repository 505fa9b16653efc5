// The runner: sets each workload up on every target, then runs its rounds interleaved
// (A, B, A, B ...) so that a noisy neighbour hits both alike, and keeps every sample. A target
// whose setup or round fails is marked with the error and runs no further rounds: its figure
// does not count. A round may return values beyond the declared metrics (e.g. CPU seconds): they
// are kept as samples too, for sections that explain the figures, but not shown in the table.
import { withDeadline } from './pool.js';

export interface Metric {
  key: string;
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  digits?: number;
  /** The machine ceiling (a metric key of the ceilings workload) this figure is a fraction of. */
  ceiling?: string;
}

export interface Workload<T extends { name: string }> {
  id: string;
  title: string;
  metrics: Metric[];
  /** Target names in round order; the runner skips targets it was not given. */
  targets?: string[];
  setup?(target: T): Promise<void>;
  run(target: T, round: number): Promise<Record<string, number>>;
  /** Called once after the last round, also after failures: stops what setup started. */
  teardown?(): Promise<void>;
  /** Upper bound for one round (default 5 minutes) and for one setup (default 10 minutes). */
  roundLimitMs?: number;
}

export interface Outcome {
  samples: Record<string, number[]>;
  error?: string;
}

export interface WorkloadResult {
  id: string;
  title: string;
  metrics: Metric[];
  outcomes: Map<string, Outcome>;
}

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function summarize(values: number[]): Summary | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], n: sorted.length };
}

/** "median (min–max)" of a target's metric, "**error**" when it failed, "" when it did not run. */
export function summaryCell(result: WorkloadResult, target: string, key: string, digits?: number): string {
  const outcome = result.outcomes.get(target);
  if (!outcome) return '';
  if (outcome.error) return '**error**';
  const s = summarize(outcome.samples[key] ?? []);
  if (!s) return '';
  const f = (v: number) => formatNumber(v, digits);
  return `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

/** The median of a target's metric, if the target ran without error. */
export function medianOf(result: WorkloadResult | undefined, target: string, metric: string): number | undefined {
  const outcome = result?.outcomes.get(target);
  if (!outcome || outcome.error) return undefined;
  return summarize(outcome.samples[metric] ?? [])?.median;
}

export type Log = (line: string) => void;

function message(error: unknown): string {
  return error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);
}

export function formatNumber(value: number, digits?: number): string {
  const d = digits ?? (Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2);
  return value.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

export async function runInterleaved<T extends { name: string }>(
  workload: Workload<T>,
  allTargets: T[],
  rounds: number,
  log: Log,
): Promise<WorkloadResult> {
  try {
    return await runRounds(workload, allTargets, rounds, log);
  } finally {
    await workload.teardown?.();
  }
}

async function runRounds<T extends { name: string }>(workload: Workload<T>, allTargets: T[], rounds: number, log: Log): Promise<WorkloadResult> {
  const names = workload.targets ?? ['stowage', 'reference'];
  const targets = names.map((n) => allTargets.find((t) => t.name === n)).filter((t): t is T => t !== undefined);
  const outcomes = new Map<string, Outcome>();
  for (const target of targets) {
    const outcome: Outcome = { samples: Object.fromEntries(workload.metrics.map((m) => [m.key, []])) };
    outcomes.set(target.name, outcome);
    if (!workload.setup) continue;
    try {
      await withDeadline(workload.setup(target), 10 * 60_000, `${workload.id} setup on ${target.name}`);
    } catch (error) {
      outcome.error = `setup: ${message(error)}`;
      log(`[${workload.id}] ${target.name} setup FAILED: ${outcome.error}`);
    }
  }
  for (let round = 0; round < rounds; round++) {
    for (const target of targets) {
      const outcome = outcomes.get(target.name)!;
      if (outcome.error) continue;
      try {
        const values = await withDeadline(
          workload.run(target, round),
          workload.roundLimitMs ?? 5 * 60_000,
          `${workload.id} round ${round + 1} on ${target.name}`,
        );
        for (const metric of workload.metrics) {
          const value = values[metric.key];
          if (!Number.isFinite(value)) throw new Error(`no value for ${metric.key}`);
          outcome.samples[metric.key].push(value);
        }
        for (const [key, value] of Object.entries(values)) {
          if (workload.metrics.some((m) => m.key === key) || !Number.isFinite(value)) continue;
          (outcome.samples[key] ??= []).push(value);
        }
        const shown = workload.metrics.map((m) => `${formatNumber(values[m.key], m.digits)} ${m.unit}`).join(', ');
        log(`[${workload.id}] round ${round + 1}/${rounds} ${target.name}: ${shown}`);
      } catch (error) {
        outcome.error = `round ${round + 1}: ${message(error)}`;
        log(`[${workload.id}] ${target.name} FAILED: ${outcome.error}`);
      }
    }
  }
  return { id: workload.id, title: workload.title, metrics: workload.metrics, outcomes };
}
