// `npm run bench`: stowage side by side with the reference registry (issues 3, 4 and 5). Installs
// what is missing, measures the machine's ceilings, starts both registries with equivalent
// configs (and stowage on s3rver for the S3 column), runs every workload interleaved over several
// rounds and writes the results (bench/RESULTS.md for a full run). Everything talks to 127.0.0.1;
// every loop is bounded in count and time.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import type { Target } from './client.js';
import { buildImage, KiB, MiB, randomBuffer, OCI_MANIFEST, type Image } from './content.js';
import { withCpuTime } from './cpu.js';
import type { BenchContext } from './context.js';
import { ensureInstalled, toolVersion } from './install.js';
import { startLoadMeter, type MachineLoad } from './machine-load.js';
import { isWanted, parseOptions, type Options } from './options.js';
import { checkTargets, renderReport, type RunInfo, type Section } from './report.js';
import { runInterleaved, type Workload, type WorkloadResult } from './runner.js';
import {
  launchBareHttp,
  launchRegistry,
  launchS3rver,
  LOG_LEVEL,
  REFERENCE_BINARY,
  REPO_ROOT,
  STOWAGE_ENTRY,
  stopAllChildren,
  type LaunchedS3rver,
} from './servers.js';
import { blobPullWorkloads } from './workloads/blob-pull.js';
import { blobPushWorkloads } from './workloads/blob-push.js';
import { ceilingWorkload } from './workloads/ceilings.js';
import { clientsRun } from './workloads/clients.js';
import { listingWorkloads } from './workloads/listings.js';
import { manifestWorkloads } from './workloads/manifests.js';
import { proxyWorkloads } from './workloads/proxy.js';
import { s3rverAloneWorkload, s3Section, S3_COLUMN, stowageS3Storage } from './workloads/s3.js';
import { skopeoWorkload } from './workloads/skopeo-copy.js';
import { smallBlobWorkload } from './workloads/small-blobs.js';
import { soakRun } from './workloads/soak.js';
import { FSYNC_COLUMN, fsyncSection, NO_FSYNC } from './workloads/fsync.js';
import { startupSection, startupWorkload } from './workloads/startup.js';
import { scaleRun } from './workloads/scale.js';
import { uiRun } from './workloads/ui.js';

const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

const running: Array<{ stop(): Promise<void> }> = [];
async function stopAll(): Promise<void> {
  await Promise.all(running.splice(0).map((s) => s.stop().catch(() => {})));
}

/** Exports a git revision into the work directory and builds it as `npm run build` does; returns its dist/stowage.mjs. */
function buildRevision(rev: string, workDir: string): string {
  const dir = join(workDir, 'stowage-src');
  mkdirSync(dir);
  log(`building stowage at ${rev} in ${dir}`);
  execFileSync('sh', ['-c', 'git -C "$1" archive "$2" | tar -x -C "$3"', 'sh', REPO_ROOT, rev, dir], { stdio: 'inherit' });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
  // Newer revisions build with tsconfig.build.json (their tsconfig.json only type-checks).
  const tsconfig = ['tsconfig.build.json', 'tsconfig.json'].map((name) => join(dir, name)).find((path) => existsSync(path))!;
  execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', tsconfig], { stdio: 'inherit' });
  if (!existsSync(join(dir, 'scripts/bundle.mjs')))
    throw new Error(`${rev} has no scripts/bundle.mjs: it predates dist/stowage.mjs; use --stowage-cli with its dist/server/cli.js`);
  execFileSync(process.execPath, ['scripts/bundle.mjs'], { cwd: dir, stdio: 'inherit' });
  return join(dir, 'dist/stowage.mjs');
}

function gitDescription(rev = 'HEAD', checkTree = true): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', rev], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    if (!checkTree) return commit;
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'server', 'storage', 'auth', 'errors'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    }).trim();
    return `${commit}${dirty ? ' with uncommitted changes in server/ or storage/' : ''}`;
  } catch {
    return 'unknown commit';
  }
}

function loadAverage(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
}

/** Which of the optional setups the run used, for the conditions it lists. */
interface Setups {
  s3: boolean;
  proxy: boolean;
}

function runInfo(options: Options, loadBefore: number, loadAtStart: string, load: MachineLoad, setups: Setups): RunInfo {
  const build = options.stowageRev
    ? `stowage at commit ${gitDescription(options.stowageRev, false)} (--stowage-rev ${options.stowageRev}, built apart from the working tree)`
    : options.stowageCli === STOWAGE_ENTRY
      ? `stowage at ${gitDescription()}`
      : `stowage build ${options.stowageCli}`;
  const cpus = os.cpus();
  const notes: string[] = [];
  // Only what other processes used during the run counts: the load average before it lags, and
  // after --stowage-rev it mostly counts the build this run just did.
  if (load.othersCores >= 0.2) {
    notes.push(
      `measured on a busy machine: other processes used ${load.othersCores.toFixed(2)} of the ${cpus.length} cores on average during the run (the 1-minute load average was ${loadBefore.toFixed(2)} before it started). Absolute figures are noisy and low; the interleaved rounds keep the ratios comparable, and min–max shows the spread.`,
    );
  }
  if (options.quick) notes.push('a --quick run: fewer rounds and smaller counts than the issue asks for; not the reference table.');
  if (options.note) notes.push(options.note);
  return {
    date: new Date().toISOString().replace('T', ' ').slice(0, 16) + ' UTC',
    command: `npm run bench${options.argv.length ? ` -- ${options.argv.join(' ')}` : ''}`,
    machine: `${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB memory, Linux ${os.release()}; load average (1/5/15 min) at start ${loadAtStart}, at end ${loadAverage()}; CPU used during the run: ${load.benchCores.toFixed(2)} cores by the benchmark (servers and clients), ${load.othersCores.toFixed(2)} cores by other processes`,
    software: [
      `${build}, Node ${process.version} (\`node ${options.stowageRev || options.stowageCli === STOWAGE_ENTRY ? 'dist/stowage.mjs' : options.stowageCli} serve --config FILE\`, the bundled server \`npm start\` runs)`,
      `reference: ${toolVersion(REFERENCE_BINARY, ['--version'])} (\`docker-registry serve FILE\`)`,
      `clients: Node http with keep-alive agents; ${toolVersion('wrk', ['-v'])} for GET loads; ${toolVersion('ab', ['-V'])} for the HEAD load, since wrk 4.1.0 cannot parse answers to HEAD (wrk issue #198); ${toolVersion('skopeo', ['--version'])}`,
    ],
    conditions: [
      `both registries: filesystem storage in fresh empty directories on the same disk, listening on 127.0.0.1 only, log level \`${LOG_LEVEL}\` with the access log disabled (so logging is not what is measured), deletes enabled, upload purging off; the reference also keeps the in-memory blob descriptor cache of its packaged config`,
      ...(setups.s3
        ? [
            'stowage on S3 (the S3 column): `storage.s3` on s3rver (the npm package, with the fixes the tests load) in its own process on 127.0.0.1, storing in the work directory; the reference has no S3 column, since its S3 driver fails every upload against s3rver',
          ]
        : []),
      ...(setups.proxy
        ? [
            'pull-through proxies: stowage and the reference each with `proxy: { remoteurl }` (a fresh process with an empty cache every round), in front of one upstream docker-registry holding the image, through a relay that counts the bytes the upstream serves',
          ]
        : []),
      `${options.rounds} rounds per workload (start-up: ${options.startupRounds}), interleaved stowage, reference (and the bare Node http server where it is the ceiling) in turn; wrk runs ${options.wrk.threads} threads and ab one, both with ${options.wrk.connections} keep-alive connections for ${options.wrk.seconds} s`,
      'every response is checked (status, byte count, digest or exact bytes where they apply); blob pulls are compared byte for byte with what was pushed',
    ],
    notes,
  };
}

/** Removes the work directory; after a failure only the bulky data, keeping configs and logs. */
function cleanUp(workDir: string, keep: boolean, failed: boolean): void {
  if (keep) {
    log(`work directory kept: ${workDir}`);
    return;
  }
  if (!failed) {
    rmSync(workDir, { recursive: true, force: true });
    return;
  }
  for (const entry of readdirSync(workDir, { withFileTypes: true })) {
    const path = join(workDir, entry.name);
    if (entry.isDirectory() && (entry.name.startsWith('skopeo-') || entry.name === 'stowage-src')) rmSync(path, { recursive: true, force: true });
    else if (entry.isDirectory()) rmSync(join(path, 'data'), { recursive: true, force: true });
    else if (!entry.name.endsWith('.log')) rmSync(path, { force: true });
  }
  log(`server logs and configs kept in ${workDir}`);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  // The commit a moving name (HEAD) stands for now, when it is built, not when the report is written.
  if (options.stowageRev) options.stowageRev = gitDescription(options.stowageRev, false);
  const loadBefore = os.loadavg()[0];
  const loadAtStart = loadAverage();
  ensureInstalled(log);
  if (!options.stowageRev && !existsSync(options.stowageCli))
    throw new Error(`${relative(process.cwd(), options.stowageCli)} is missing: run npm run build (npm run bench does)`);
  const workDir = mkdtempSync(join(os.tmpdir(), 'stowage-bench-'));
  let failed = true;
  try {
    if (options.stowageRev) options.stowageCli = buildRevision(options.stowageRev, workDir);
    await runAll(options, workDir, loadBefore, loadAtStart);
    failed = false;
  } finally {
    await stopAll();
    cleanUp(workDir, options.keep, failed);
  }
}

async function runAll(options: Options, workDir: string, loadBefore: number, loadAtStart: string): Promise<void> {
  const loadMeter = startLoadMeter(os.cpus().length);
  const manifestImage = buildImage([randomBuffer(KiB), randomBuffer(2 * KiB), randomBuffer(3 * KiB)], 'manifest');
  const manifestFile = join(workDir, 'manifest.json');
  writeFileSync(manifestFile, manifestImage.manifest);
  let layered: Image | undefined;
  const layeredImage = () =>
    (layered ??= buildImage(
      options.skopeoLayersMiB.map((m) => randomBuffer(m * MiB)),
      'skopeo',
    ));
  const ctx: BenchContext = { options, workDir, log, manifest: { image: manifestImage, file: manifestFile }, layeredImage };

  const ceilings = ceilingWorkload(ctx);
  const startup = startupWorkload(ctx);
  const workloads: Workload<Target>[] = [
    ...blobPushWorkloads(ctx),
    ...blobPullWorkloads(ctx),
    smallBlobWorkload(ctx),
    ...manifestWorkloads(ctx),
    ...listingWorkloads(ctx),
    skopeoWorkload(ctx),
    ...proxyWorkloads(ctx),
  ]
    .map((w) => (S3_COLUMN.includes(w.id) ? withCpuTime(w) : w))
    .map((w) => (options.fsyncCost && FSYNC_COLUMN.includes(w.id) ? { ...w, targets: [...(w.targets ?? ['stowage', 'reference']), NO_FSYNC] } : w));
  const wanted = (id: string) => isWanted(options, id);
  log(
    `workloads: ceilings, startup, ${workloads.map((w) => w.id).join(', ')}, s3rver-alone${options.soakSeconds ? ', soak' : ''}${options.clients ? ', clients' : ''}, scale, ui`,
  );
  log(`work directory ${workDir}; load average ${loadAtStart}`);

  let ceilingResult: WorkloadResult | undefined;
  const results: WorkloadResult[] = [];
  const sections: Section[] = [];
  if (wanted('ceilings')) {
    try {
      ceilingResult = await runInterleaved(ceilings, [{ name: 'machine' as const }], options.rounds, log);
    } finally {
      await ceilings.stop();
    }
  }
  if (wanted('startup')) {
    // npm start runs the checkout's own build: only when that is the build measured.
    const npm = options.stowageRev || options.stowageCli !== STOWAGE_ENTRY ? [] : [{ name: 'stowage-npm' }];
    results.push(
      await runInterleaved(startup, [{ name: 'stowage' }, ...npm, { name: 'node-floor' }, { name: 'reference' }], options.startupRounds, log),
    );
  }
  const selected = workloads.filter((w) => wanted(w.id));
  const soak = options.soakSeconds !== undefined && wanted('soak');
  const clients = options.clients !== undefined && wanted('clients');
  if (selected.length > 0 || soak || clients) {
    const stowage = await launchRegistry('stowage', workDir, 'stowage', { stowageCli: options.stowageCli });
    running.push(stowage);
    const reference = await launchRegistry('reference', workDir, 'reference');
    running.push(reference);
    const targets = [stowage.target, reference.target];
    let s3rver: LaunchedS3rver | undefined;
    if (selected.some((w) => w.targets?.includes('stowage-s3'))) {
      s3rver = await launchS3rver(workDir);
      running.push(s3rver);
      const onS3 = await launchRegistry('stowage', workDir, 'stowage-s3', {
        name: 'stowage-s3',
        stowageCli: options.stowageCli,
        s3: stowageS3Storage(s3rver),
        storagePid: s3rver.pid,
      });
      running.push(onS3);
      targets.push(onS3.target);
    }
    if (selected.some((w) => w.targets?.includes(NO_FSYNC))) {
      const noFsync = await launchRegistry('stowage', workDir, NO_FSYNC, { name: NO_FSYNC, stowageCli: options.stowageCli, fsync: false });
      running.push(noFsync);
      targets.push(noFsync.target);
    }
    if (selected.some((w) => w.targets?.includes('node-http'))) {
      const bare = await launchBareHttp(workDir, manifestFile, OCI_MANIFEST, manifestImage.manifestDigest);
      running.push(bare);
      targets.push(bare.target);
    }
    for (const workload of selected) {
      log(`== ${workload.id}: ${workload.title}`);
      results.push(await runInterleaved(workload, targets, options.rounds, log));
    }
    if (s3rver && wanted('s3rver-alone')) {
      const alone = s3rverAloneWorkload(ctx, s3rver);
      log(`== ${alone.id}: ${alone.title}`);
      const aloneResult = await runInterleaved(alone, [{ name: 's3rver' as const, pid: s3rver.pid }], options.rounds, log);
      sections.push(s3Section(ctx, results, aloneResult));
    }
    if (options.fsyncCost) sections.push(fsyncSection(results));
    if (soak) sections.push(await soakRun(ctx, [stowage.target, reference.target], options.soakSeconds!));
    if (clients) sections.push(await clientsRun(ctx, [stowage.target, reference.target], options.clients!, options.clientSeconds));
    await stopAll();
  }
  const startupTable = startupSection(results.find((r) => r.id === 'startup'));
  if (startupTable) sections.push(startupTable);
  // Its own registries, after the others have stopped.
  if (wanted('scale')) sections.push(await scaleRun(ctx));
  if (wanted('ui')) sections.push(await uiRun(ctx));

  // Start-up closes the table; the ceilings have their own.
  const ordered = [...results.filter((r) => r.id !== 'startup'), ...results.filter((r) => r.id === 'startup')];
  const targets = checkTargets(ordered, ceilingResult);
  for (const section of sections) targets.push(...(section.targets ?? []));
  const setups = { s3: ordered.some((r) => r.outcomes.has('stowage-s3')), proxy: ordered.some((r) => r.id.startsWith('proxy-')) };
  const report = renderReport(runInfo(options, loadBefore, loadAtStart, loadMeter(), setups), ceilingResult, ordered, sections, targets);
  const full = !options.quick && !options.only;
  const out = options.out ?? join(REPO_ROOT, full ? 'bench/RESULTS.md' : 'bench/out/RESULTS-quick.md');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, report);
  process.stdout.write(report);
  log(`results written to ${out}`);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping servers`);
    void stopAll()
      .then(stopAllChildren)
      .then(() => process.exit(130));
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
