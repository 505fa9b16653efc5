// Garbage collection of the whole scale registry, and `stowage reindex` where the build has it.
// Stowage collects online (`stowage gc` beside the server) while 4 clients keep pushing new
// images; afterwards every push acknowledged meanwhile is read back (manifest bytes, blob sizes):
// a collection that lost one is an error. The reference's garbage-collect requires the registry
// stopped (Distribution's docs: run it stopped or read-only), so it runs with the registry down
// and no pushes, and the registry is started again afterwards.
import { buildImage, KiB, randomBuffer } from '../content.js';
import { expectBlob, expectManifest, pushImage, type Target } from '../client.js';
import { forEachConcurrent, sleep } from '../pool.js';
import { REFERENCE_BINARY, runCommand, type CommandRun } from '../servers.js';

const PUSH_REPOSITORY = 'scale/gcpush';
const PUSHERS = 4;
/** Pushes kept for the read-back; past it the pushers stop (the bench's memory stays bounded). */
const MAX_PUSHES = 20_000;
const GC_LIMIT_MS = 2 * 60 * 60_000;

export interface GcOutcome {
  seconds: number;
  /** Pushes acknowledged while the collection ran; undefined when the registry was stopped. */
  pushes?: number;
  peakRssBytes: number;
  /** What the collector said it did, in a few words. */
  summary: string;
}

interface Pushed {
  tag: string;
  manifest: Buffer;
  manifestDigest: string;
  blobs: Array<{ digest: string; size: number }>;
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

function expectSuccess(run: CommandRun, what: string): void {
  if (run.code !== 0) throw new Error(`${what} exited with ${run.code}: ${lastLine(run.stdout) || 'no output'} (see the log)`);
}

export async function stowageGcWhilePushing(target: Target, stowageCli: string, configFile: string, logFile: string): Promise<GcOutcome> {
  const pushed: Pushed[] = [];
  let collecting = true;
  let attempted = 0;
  const pushers = forEachConcurrent(PUSHERS, PUSHERS, async () => {
    while (collecting && attempted < MAX_PUSHES) {
      const n = attempted++;
      const image = buildImage([randomBuffer(4 * KiB)], `gc ${n}`);
      const tag = `p${n}`;
      await pushImage(target, PUSH_REPOSITORY, tag, image);
      pushed.push({
        tag,
        manifest: image.manifest,
        manifestDigest: image.manifestDigest,
        blobs: [
          ...image.layers.map((l, i) => ({ digest: image.layerDigests[i], size: l.length })),
          { digest: image.configDigest, size: image.config.length },
        ],
      });
    }
  });
  let run: CommandRun;
  try {
    // The collection starts with pushes in flight.
    for (let waited = 0; pushed.length < PUSHERS && waited < 5000; waited += 10) await sleep(10);
    run = await runCommand(process.execPath, [stowageCli, 'gc', '--config', configFile, '--json'], logFile, GC_LIMIT_MS);
  } finally {
    collecting = false;
    await pushers;
  }
  expectSuccess(run, 'stowage gc');
  await forEachConcurrent(pushed.length, 16, async (i) => {
    const p = pushed[i];
    await expectManifest(target, PUSH_REPOSITORY, p.tag, p.manifest, p.manifestDigest);
    for (const blob of p.blobs) await expectBlob(target, PUSH_REPOSITORY, blob.digest, blob.size);
  });
  let summary = lastLine(run.stdout);
  try {
    const r = JSON.parse(summary) as { repositories: number; manifestsKept: number; blobsKept: number; blobsDeleted: unknown[]; keptInUse?: number };
    summary = `${r.repositories} repositories, ${r.manifestsKept} manifests kept, ${r.blobsKept} blobs kept, ${r.blobsDeleted.length} deleted${r.keptInUse ? `, ${r.keptInUse} kept in use` : ''}`;
  } catch {
    // Another build's output: shown as it is.
  }
  return { seconds: run.ms / 1000, pushes: pushed.length, peakRssBytes: run.peakRssBytes, summary };
}

/** The reference's offline collection; the caller has stopped the registry and starts it again. */
export async function referenceGc(configFile: string, logFile: string): Promise<GcOutcome> {
  const run = await runCommand(REFERENCE_BINARY, ['garbage-collect', configFile], logFile, GC_LIMIT_MS);
  expectSuccess(run, 'docker-registry garbage-collect');
  // It ends with "N blobs marked, M blobs and K manifests eligible for deletion".
  const summary = /\d+ blobs marked.*$/m.exec(run.stdout)?.[0] ?? lastLine(run.stdout);
  return { seconds: run.ms / 1000, peakRssBytes: run.peakRssBytes, summary };
}

/** Whether this stowage build has a `reindex` command (issue 14 adds it). */
export async function hasReindex(stowageCli: string, logFile: string): Promise<boolean> {
  const run = await runCommand(process.execPath, [stowageCli, '--help'], logFile, 60_000);
  return /^\s+reindex\b/m.test(run.stdout);
}

/** `stowage reindex`, then `stowage reindex --verify`, on a stopped registry's storage. */
export async function stowageReindex(stowageCli: string, configFile: string, logFile: string): Promise<{ seconds: number; verified: string }> {
  const run = await runCommand(process.execPath, [stowageCli, 'reindex', '--config', configFile], logFile, GC_LIMIT_MS);
  expectSuccess(run, 'stowage reindex');
  const verify = await runCommand(process.execPath, [stowageCli, 'reindex', '--verify', '--config', configFile], logFile, GC_LIMIT_MS);
  const verified = verify.code === 0 ? 'verify found no difference' : `verify exited with ${verify.code}: ${lastLine(verify.stdout)}`;
  return { seconds: run.ms / 1000, verified };
}
