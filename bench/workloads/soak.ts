// `--soak`: a mixed load for a fixed time on each registry in turn (stowage first): 8 workers
// pushing 1 MiB blobs (monolithic, every fourth one chunked; after the first round of a pool of
// 64 these are re-pushes, so the disk does not grow), pulling them back byte for byte, putting
// and getting manifests. RSS is sampled every second; the figure that matters is whether it is
// flat once warmed up.
import type { BenchContext } from '../context.js';
import { imageManifest, MiB, OCI_CONFIG, OCI_LAYER, randomBuffer, sha256 } from '../content.js';
import { expectManifest, pullBlob, pushBlob, pushBlobChunked, pushImage, putManifest, type Target } from '../client.js';
import { forEachConcurrent } from '../pool.js';
import { formatNumber } from '../runner.js';
import type { Section, TargetCheck } from '../report.js';
import { RssSampler } from '../rss.js';

const REPOSITORY = 'bench/soak';
const WORKERS = 8;
const POOL = 64;
const MAX_OPS = 5_000_000;

interface SoakResult {
  target: string;
  ops: number;
  seconds: number;
  errors: string[];
  errorCount: number;
  warmMiB: number;
  endMiB: number;
  peakMiB: number;
  slopeMiBPerMin: number;
  flat: boolean;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[s.length >> 1] : 0;
}

/** Least-squares slope of RSS over time, in MiB per minute. */
function slope(samples: Array<{ atMs: number; bytes: number }>): number {
  const n = samples.length;
  if (n < 2) return 0;
  const mx = samples.reduce((a, s) => a + s.atMs, 0) / n;
  const my = samples.reduce((a, s) => a + s.bytes, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.atMs - mx) * (s.bytes - my);
    den += (s.atMs - mx) ** 2;
  }
  return den ? ((num / den) * 60_000) / MiB : 0;
}

async function soakOne(ctx: BenchContext, target: Target, seconds: number): Promise<SoakResult> {
  const { image } = ctx.manifest;
  const blobs = Array.from({ length: POOL }, () => randomBuffer(MiB));
  const digests = blobs.map((b) => sha256(b));
  const pushed = new Set<number>();
  await pushImage(target, REPOSITORY, 'base', image);
  const config = { mediaType: OCI_CONFIG, digest: image.configDigest, size: image.config.length };
  const layers = image.layers.map((l, i) => ({ mediaType: OCI_LAYER, digest: image.layerDigests[i], size: l.length }));

  const errors: string[] = [];
  let errorCount = 0;
  let ops = 0;
  const sampler = new RssSampler(target.pid, 1000);
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const operation = async (worker: number, n: number): Promise<void> => {
    const kind = n % 10;
    if (kind < 4 || pushed.size === 0) {
      const i = (worker * 7919 + n) % POOL;
      if (n % 4 === 3) await pushBlobChunked(target, REPOSITORY, blobs[i], digests[i], 256 * 1024);
      else await pushBlob(target, REPOSITORY, blobs[i], digests[i]);
      pushed.add(i);
    } else if (kind < 8) {
      const known = [...pushed];
      const i = known[(worker * 31 + n) % known.length];
      await pullBlob(target, REPOSITORY, digests[i], blobs[i]);
    } else if (kind === 8) {
      const manifest = imageManifest(config, layers, { 'bench.soak': `${worker} ${n}` });
      await putManifest(target, REPOSITORY, `w${worker}n${n}`, manifest, sha256(manifest));
    } else {
      await expectManifest(target, REPOSITORY, 'base', image.manifest, image.manifestDigest);
    }
  };
  try {
    await forEachConcurrent(WORKERS, WORKERS, async (worker) => {
      for (let n = 0; performance.now() < deadline && ops < MAX_OPS; n++) {
        try {
          await operation(worker, n);
          ops++;
        } catch (error) {
          errorCount++;
          if (errors.length < 5) errors.push((error as Error).message);
          if (errorCount > 100) return; // the server is broken; stop rather than spin
        }
      }
    });
  } finally {
    sampler.stop();
  }
  const elapsed = (performance.now() - started) / 1000;
  const samples = sampler.samples;
  const warmFrom = samples.length * 0.1;
  const warmed = samples.filter((_, i) => i >= warmFrom);
  const tenth = Math.max(1, Math.floor(warmed.length / 10));
  const warmMiB = median(warmed.slice(0, tenth).map((s) => s.bytes)) / MiB;
  const endMiB = median(warmed.slice(-tenth).map((s) => s.bytes)) / MiB;
  const peakMiB = Math.max(...samples.map((s) => s.bytes)) / MiB;
  // Flat: the last tenth's median is within 10% (and at least 10 MiB) of the first warmed tenth's.
  const flat = endMiB - warmMiB <= Math.max(10, warmMiB * 0.1);
  return { target: target.name, ops, seconds: elapsed, errors, errorCount, warmMiB, endMiB, peakMiB, slopeMiBPerMin: slope(warmed), flat };
}

export async function soakRun(ctx: BenchContext, targets: Target[], seconds: number): Promise<Section> {
  const results: SoakResult[] = [];
  for (const target of targets) {
    ctx.log(`== soak on ${target.name} for ${seconds} s`);
    const r = await soakOne(ctx, target, seconds);
    ctx.log(
      `[soak] ${target.name}: ${r.ops} ops, ${r.errorCount} errors, RSS ${r.warmMiB.toFixed(0)} -> ${r.endMiB.toFixed(0)} MiB (peak ${r.peakMiB.toFixed(0)}), ${r.flat ? 'flat' : 'growing'}`,
    );
    results.push(r);
  }
  const rows = [
    '| registry | ops | ops/s | errors | RSS after warm-up, MiB | RSS at end, MiB | peak, MiB | slope, MiB/min | flat |',
    '|---|---|---|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${r.target} | ${r.ops} | ${formatNumber(r.ops / r.seconds)} | ${r.errorCount}${r.errors.length ? `: ${r.errors[0]}` : ''} | ${formatNumber(r.warmMiB, 0)} | ${formatNumber(r.endMiB, 0)} | ${formatNumber(r.peakMiB, 0)} | ${formatNumber(r.slopeMiBPerMin, 2)} | ${r.flat ? 'yes' : 'no'} |`,
    ),
  ];
  const stowage = results.find((r) => r.target === 'stowage');
  const targetsChecked: TargetCheck[] = stowage
    ? [
        {
          target: `RSS flat across a ${seconds} s soak of mixed pushes and pulls`,
          measured: `${formatNumber(stowage.warmMiB, 0)} -> ${formatNumber(stowage.endMiB, 0)} MiB, ${stowage.errorCount} errors`,
          verdict: stowage.errorCount === 0 && stowage.flat ? 'met' : 'missed',
        },
      ]
    : [];
  return {
    title: `Soak (${seconds} s per registry)`,
    markdown: `${WORKERS} workers: 40% pushes of 1 MiB blobs from a pool of ${POOL} (every fourth chunked in 256 KiB PATCHes; after the first pass they are re-pushes), 40% pulls compared byte for byte, 10% manifest PUTs, 10% manifest GETs. RSS sampled every second; "flat" means the median of the last tenth is within max(10 MiB, 10%) of the first tenth after a 10% warm-up.\n\n${rows.join('\n')}`,
    targets: targetsChecked,
  };
}
