// The scale workload (issue 14): each registry filled through the API to a large shape (20,000
// repositories, 500,000 tags, 100,000 in one) and to a small one (100 repositories), then timed:
// creation, start-up over the data, listings and a manifest GET under load (small and large
// interleaved, round after round), peak RSS, garbage collection of the whole registry, and
// `stowage reindex` where the build has it. Registries: stowage and the reference on their
// filesystems, and with --scale-pg stowage on S3 (s3rver) + PostgreSQL when the build accepts
// stowage.database.url. Every registry has its own processes and data directories.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import type { BenchContext } from '../context.js';
import { runLoad, timeOneRequest, type LoadResult } from '../load.js';
import { launchPostgres, postgresBinDir } from '../postgres-server.js';
import type { Section } from '../report.js';
import { RssSampler } from '../rss.js';
import type { Metric, Outcome, WorkloadResult } from '../runner.js';
import { ExitedEarly, launchRegistry, launchS3rver, type LaunchedServer, type RegistryKind, type RegistrySetup } from '../servers.js';
import { MiB, type Image } from '../content.js';
import { stowageS3Storage } from './s3.js';
import { hasReindex, referenceGc, stowageGcWhilePushing, stowageReindex } from './scale-gc.js';
import { checkShape, createRegistry, describeShape, rewriteTags, scaleImage, type ScaleShape } from './scale-registry.js';
import { scaleRequests, type ScaleRequest } from './scale-requests.js';
import { scaleSection, type ScaleResults } from './scale-report.js';

export const SCALE_PG = 'stowage-s3-pg';
const S3RVER_CONCURRENCY = 8;

type Size = 'small' | 'large';

interface Column {
  name: string;
  kind: RegistryKind;
  setup(size: Size): RegistrySetup;
  /** Requests at once while filling it (default: options.scale.createConcurrency). */
  createConcurrency?: number;
  /** A condition of its own, for the notes when it ran. */
  note?: string;
}

interface Instance {
  column: Column;
  size: Size;
  shape: ScaleShape;
  /** The outcome key: the column's name, with "@small" for the small registry. */
  key: string;
  dir: string;
  server?: LaunchedServer;
  failed?: string;
}

function result(id: string, title: string, metrics: Metric[]): WorkloadResult {
  return { id, title, metrics, outcomes: new Map() };
}

function outcomeOf(r: WorkloadResult, key: string): Outcome {
  let o = r.outcomes.get(key);
  if (!o) r.outcomes.set(key, (o = { samples: Object.fromEntries(r.metrics.map((m) => [m.key, []])) }));
  return o;
}

function record(r: WorkloadResult, key: string, values: Record<string, number | undefined>): void {
  const o = outcomeOf(r, key);
  for (const [k, v] of Object.entries(values)) if (v !== undefined && Number.isFinite(v)) (o.samples[k] ??= []).push(v);
}

function message(error: unknown): string {
  return error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);
}

function fail(r: WorkloadResult, key: string, error: unknown): string {
  const text = message(error);
  outcomeOf(r, key).error ??= text;
  return text;
}

/** Listings are timed quiet, and again while a tag is pushed every so often. */
const PUSH_INTERVAL_MS = 100;
const PUSHES = `a tag pushed every ${PUSH_INTERVAL_MS} ms meanwhile`;

/** Timed once after each start-up, before anything could have cached them. */
const COLD = ['catalog-deep', 'tags-deep'];

const RPS: Metric = { key: 'rps', label: 'requests', unit: 'req/s', better: 'higher' };
const P50: Metric = { key: 'p50', label: 'p50 latency', unit: 'ms', better: 'lower', digits: 2 };
const P99: Metric = { key: 'p99', label: 'p99 latency', unit: 'ms', better: 'lower', digits: 2 };

/** What the phases share. */
interface Run {
  ctx: BenchContext;
  results: ScaleResults;
  requests: ScaleRequest[];
  image: Image;
  instances: Instance[];
  notes: string[];
}

function newResults(requests: ScaleRequest[]): ScaleResults {
  return {
    create: result('scale-create', 'creation through the API', [
      { key: 'seconds', label: 'creation time', unit: 's', better: 'lower' },
      { key: 'rps', label: 'creation requests', unit: 'req/s', better: 'higher' },
      { key: 'rssMiB', label: 'peak RSS during creation', unit: 'MiB', better: 'lower' },
    ]),
    startup: result('scale-startup', 'start-up over the data', [{ key: 'ms', label: 'start-up over the data', unit: 'ms', better: 'lower' }]),
    cold: result(
      'scale-cold',
      'the first deep pages after start-up',
      COLD.map((id) => ({
        key: id,
        label: `${requests.find((q) => q.id === id)!.label}, the first after start-up (nothing cached)`,
        unit: 'ms',
        better: 'lower' as const,
        digits: 2,
      })),
    ),
    rss: result('scale-rss', 'peak RSS while serving the timed requests', [
      { key: 'rssMiB', label: 'peak RSS while serving the timed requests', unit: 'MiB', better: 'lower' },
    ]),
    requests: requests.flatMap((request) => [
      { request, pushes: false, result: result(`scale-${request.id}`, request.label, [RPS, P50, P99]) },
      ...(request.listing
        ? [{ request, pushes: true, result: result(`scale-${request.id}-pushes`, `${request.label}, ${PUSHES}`, [RPS, P50, P99]) }]
        : []),
    ]),
    gc: result('scale-gc', 'garbage collection of the whole registry', [
      { key: 'seconds', label: 'GC time, whole registry', unit: 's', better: 'lower', digits: 2 },
      { key: 'pushes', label: 'pushes acknowledged during GC (all read back)', unit: 'pushes', better: 'higher', digits: 0 },
      { key: 'rssMiB', label: 'GC process peak RSS', unit: 'MiB', better: 'lower' },
    ]),
    reindex: result('scale-reindex', 'stowage reindex', [{ key: 'seconds', label: '`stowage reindex` time', unit: 's', better: 'lower', digits: 2 }]),
  };
}

async function launch(run: Run, inst: Instance): Promise<LaunchedServer> {
  inst.server = await launchRegistry(inst.column.kind, run.ctx.workDir, inst.dir, { ...inst.column.setup(inst.size), name: inst.key });
  return inst.server;
}

function live(run: Run, size?: Size): Instance[] {
  return run.instances.filter((i) => !i.failed && (size === undefined || i.size === size));
}

export async function scaleRun(ctx: BenchContext): Promise<Section> {
  const { options, workDir, log } = ctx;
  checkShape(options.scale.large);
  checkShape(options.scale.small);
  const image = scaleImage();
  const requests = scaleRequests(options.scale.page, image);
  const run: Run = { ctx, results: newResults(requests), requests, image, instances: [], notes: [] };
  const columns: Column[] = [
    { name: 'stowage', kind: 'stowage', setup: () => ({ stowageCli: options.stowageCli }) },
    { name: 'reference', kind: 'reference', setup: () => ({}) },
  ];
  const addInstances = (column: Column) => {
    for (const size of ['small', 'large'] as const) {
      const key = size === 'large' ? column.name : `${column.name}@small`;
      const shape = size === 'large' ? options.scale.large : options.scale.small;
      run.instances.push({ column, size, shape, key, dir: `scale-${column.name}-${size}` });
    }
  };
  columns.forEach(addInstances);
  const stops: Array<() => Promise<void>> = [];
  try {
    if (options.scalePg) {
      const pg = await prepareS3Pg(ctx, stops, run.notes);
      if (pg) {
        columns.push(pg);
        addInstances(pg);
      }
    }
    await createAll(run);
    await timeStartups(run);
    await timeRequests(run);
    await collectGarbage(run);
    await timeReindex(run);
  } finally {
    await Promise.all(run.instances.map((i) => i.server?.stop().catch(() => {})));
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => {});
    if (!options.keep) {
      log('[scale] removing the registries (an inode or more per tag and repository: minutes at full size)');
      // rm -rf, not fs.rmSync: about four times faster on a tree of millions of small directories.
      await promisify(execFile)('rm', ['-rf', '--', ...run.instances.map((inst) => join(workDir, inst.dir, 'data'))]);
    }
  }
  const ran = columns.filter((c) => run.instances.some((i) => i.column === c && i.failed !== 'skipped'));
  for (const column of ran) if (column.note) run.notes.push(column.note);
  return scaleSection(
    ctx,
    run.results,
    ran.map((c) => c.name),
    run.notes,
  );
}

/** Fills every registry, small ones first, one at a time (each is CPU-bound on two cores). */
async function createAll(run: Run): Promise<void> {
  const { ctx, results, notes } = run;
  for (const size of ['small', 'large'] as const) {
    for (const inst of run.instances.filter((i) => i.size === size)) {
      if (run.instances.some((i) => i.column === inst.column && i.failed === 'skipped')) {
        inst.failed = 'skipped';
        continue;
      }
      let server: LaunchedServer;
      try {
        server = await launch(run, inst);
      } catch (error) {
        if (inst.column.name === SCALE_PG && error instanceof ExitedEarly && error.code === 2) {
          // A build without the metadata database refuses stowage.database.url: a note, not an error.
          notes.push(`stowage on S3 + PostgreSQL: skipped, this build does not accept \`stowage.database.url\` (${refusal(error.logFile)}).`);
          inst.failed = 'skipped';
          continue;
        }
        inst.failed = fail(results.create, inst.key, error);
        continue;
      }
      ctx.log(`[scale] creating ${describeShape(inst.shape)} on ${inst.key}`);
      const sampler = new RssSampler(server.target.pid, 500);
      try {
        const concurrency = inst.column.createConcurrency ?? ctx.options.scale.createConcurrency;
        const created = await createRegistry(server.target, inst.shape, run.image, concurrency, ctx.log);
        const rssMiB = sampler.stop() / MiB;
        const rps = created.requests / created.seconds;
        record(results.create, inst.key, { seconds: created.seconds, rps, rssMiB });
        ctx.log(`[scale] ${inst.key}: created in ${created.seconds.toFixed(1)} s (${Math.round(rps)} requests/s), peak RSS ${rssMiB.toFixed(0)} MiB`);
      } catch (error) {
        sampler.stop();
        inst.failed = fail(results.create, inst.key, error);
        ctx.log(`[scale] ${inst.key} creation FAILED: ${inst.failed}`);
      }
    }
  }
}

/** Start-up over each large registry's data (stop, spawn again, first 200 on /v2/), then the deep pages, cold. */
async function timeStartups(run: Run): Promise<void> {
  const { ctx, results, requests } = run;
  const rounds = ctx.options.startupRounds;
  for (let round = 0; round < rounds; round++) {
    for (const inst of live(run, 'large')) {
      try {
        await inst.server!.stop();
        const server = await launch(run, inst);
        record(results.startup, inst.key, { ms: server.readyMs });
        const cold: Record<string, number> = {};
        for (const id of COLD) {
          const request = requests.find((q) => q.id === id)!;
          cold[id] = await timeOneRequest(server.target, request.path(inst.shape), request.headers);
        }
        record(results.cold, inst.key, cold);
        const coldText = COLD.map((id) => `${id} ${cold[id].toFixed(1)} ms`).join(', ');
        ctx.log(`[scale] start-up ${round + 1}/${rounds} ${inst.key}: ${server.readyMs.toFixed(0)} ms; then ${coldText}`);
      } catch (error) {
        inst.failed = fail(results.startup, inst.key, error);
      }
    }
  }
}

/** Each request checked in full once on every registry, then timed under load, every registry in turn within each round. */
async function timeRequests(run: Run): Promise<void> {
  const { ctx, results, notes } = run;
  const { options } = ctx;
  const samplers = new Map(live(run, 'large').map((i) => [i.key, new RssSampler(i.server!.target.pid, 200)]));
  const lengths = new Map<string, number>();
  for (const request of run.requests) {
    for (const inst of live(run)) {
      try {
        const { length, note } = await request.check(inst.server!.target, inst.shape);
        lengths.set(`${inst.key} ${request.id}`, length);
        if (note && inst.size === 'large') notes.push(`${inst.column.name}, ${request.label}: ${note}.`);
      } catch (error) {
        for (const timed of results.requests) if (timed.request === request) fail(timed.result, inst.key, error);
      }
    }
  }
  for (let round = 0; round < options.rounds; round++) {
    for (const { request, pushes, result: r } of results.requests) {
      for (const inst of live(run)) {
        if (r.outcomes.get(inst.key)?.error) continue;
        const target = inst.server!.target;
        const writer = pushes ? rewriteTags(target, inst.shape, run.image, PUSH_INTERVAL_MS) : undefined;
        try {
          let load: LoadResult;
          let writes: number | undefined;
          try {
            load = await runLoad(target, {
              path: request.path(inst.shape),
              headers: request.headers,
              status: 200,
              length: lengths.get(`${inst.key} ${request.id}`)!,
              connections: options.scale.connections,
              seconds: options.wrk.seconds,
              limitMs: 120_000,
            });
          } finally {
            writes = await writer?.stop();
          }
          record(r, inst.key, { rps: load.rps, p50: load.p50Ms, p99: load.p99Ms, requests: load.requests, writes });
          ctx.log(
            `[scale] ${r.id} round ${round + 1}/${options.rounds} ${inst.key}: ${load.rps.toFixed(0)} req/s, p50 ${load.p50Ms.toFixed(2)} ms, p99 ${load.p99Ms.toFixed(2)} ms (${load.requests} requests${writes === undefined ? '' : `, ${writes} tag pushes`})`,
          );
        } catch (error) {
          ctx.log(`[scale] ${r.id} ${inst.key} FAILED: ${fail(r, inst.key, error)}`);
        }
      }
    }
  }
  for (const [key, sampler] of samplers) record(results.rss, key, { rssMiB: sampler.stop() / MiB });
}

/** Garbage collection of each large registry: stowage's online with pushes going on, the reference's stopped. */
async function collectGarbage(run: Run): Promise<void> {
  const { ctx, results, notes, requests } = run;
  for (const inst of live(run, 'large')) {
    const server = inst.server!;
    const logFile = join(ctx.workDir, inst.dir, 'gc.log');
    try {
      ctx.log(`[scale] garbage collection on ${inst.key}`);
      let outcome;
      if (inst.column.kind === 'stowage') {
        outcome = await stowageGcWhilePushing(server.target, ctx.options.stowageCli, server.configFile!, logFile);
      } else {
        await server.stop();
        outcome = await referenceGc(server.configFile!, logFile);
        const again = await launch(run, inst);
        await requests.find((q) => q.id === 'manifest-get')!.check(again.target, inst.shape);
      }
      record(results.gc, inst.key, { seconds: outcome.seconds, pushes: outcome.pushes, rssMiB: outcome.peakRssBytes / MiB });
      notes.push(`${inst.column.name}, GC: ${outcome.summary}.`);
      ctx.log(`[scale] ${inst.key}: GC ${outcome.seconds.toFixed(2)} s, ${outcome.pushes ?? 'no'} pushes during it; ${outcome.summary}`);
    } catch (error) {
      ctx.log(`[scale] GC on ${inst.key} FAILED: ${fail(results.gc, inst.key, error)}`);
    }
  }
}

/** `stowage reindex`, where the build has it, on each large stowage registry, stopped. */
async function timeReindex(run: Run): Promise<void> {
  const { ctx, results, notes } = run;
  const stowage = live(run, 'large').filter((i) => i.column.kind === 'stowage');
  if (!stowage.length) return;
  if (!(await hasReindex(ctx.options.stowageCli, join(ctx.workDir, 'scale-help.log')))) {
    notes.push('`stowage reindex`: not measured, this build has no `reindex` command.');
    return;
  }
  for (const inst of stowage) {
    try {
      await inst.server!.stop();
      const done = await stowageReindex(ctx.options.stowageCli, inst.server!.configFile!, join(ctx.workDir, inst.dir, 'reindex.log'));
      record(results.reindex, inst.key, { seconds: done.seconds });
      notes.push(`${inst.column.name}, reindex: ${done.verified}.`);
    } catch (error) {
      fail(results.reindex, inst.key, error);
    }
  }
}

/** What the server's log says about the config it refused ("stowage: invalid configuration" and the lines after). */
function refusal(logFile: string): string {
  try {
    const lines = readFileSync(logFile, 'utf8').split('\n');
    const at = lines.findIndex((l) => l.startsWith('stowage:'));
    if (at < 0) return 'exit code 2';
    const text = [lines[at].replace(/^stowage: /, '').replace(/ \(\/[^)]*\)/, ''), ...lines.slice(at + 1, at + 4).filter((l) => /^\s/.test(l))]
      .map((l) => l.trim())
      .join(' ');
    return text.slice(0, 300);
  } catch {
    return 'exit code 2';
  }
}

/** s3rver and PostgreSQL with one database per size, for the S3 + PostgreSQL column. */
async function prepareS3Pg(ctx: BenchContext, stops: Array<() => Promise<void>>, notes: string[]): Promise<Column | undefined> {
  if (!postgresBinDir()) {
    notes.push('stowage on S3 + PostgreSQL: skipped, PostgreSQL is not installed (`apt-get install postgresql`).');
    return undefined;
  }
  const s3rver = await launchS3rver(ctx.workDir, 'scale-s3rver');
  stops.push(() => s3rver.stop());
  const pg = await launchPostgres(ctx.workDir);
  stops.push(() => pg.stop());
  const urls = { small: pg.createDatabase('scale_small'), large: pg.createDatabase('scale_large') };
  // s3rver rewrites an object's metadata file in place (fs.writeFile), so a HEAD racing a copy of
  // the object onto itself reads half a file and answers 500; 64 manifest PUTs of one image at
  // once (each makes stowage stat and touch the same blobs) hit that, 8 did not.
  const createConcurrency = Math.min(ctx.options.scale.createConcurrency, S3RVER_CONCURRENCY);
  return {
    note: `stowage on S3 + PostgreSQL is filled ${createConcurrency} requests at once: at 64, s3rver (not S3) answered 500 to stowage's HEAD of blobs it was rewriting in place for a concurrent touch of the same object.`,
    name: SCALE_PG,
    kind: 'stowage',
    createConcurrency,
    setup: (size) => ({
      stowageCli: ctx.options.stowageCli,
      s3: { ...stowageS3Storage(s3rver), rootdirectory: `scale-${size}` },
      database: urls[size],
      storagePid: s3rver.pid,
    }),
  };
}
