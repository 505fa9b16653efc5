// The registry the scale workload (issue 14) measures, and how it is made through the HTTP API:
// `repositories` repositories scale/r00000 ..., `tags` tags in all, `bigTags` of them in
// scale/r00000 and the rest spread evenly over the others. Every tag points at the same small
// manifest (one 1 KiB layer and a config): its blobs are pushed once into scale/r00000, mounted
// into every other repository, and the manifest is PUT under each tag, many requests at once.
// Names are computed from indices, so neither the creation nor the checks hold a list in memory.
import { buildImage, KiB, randomBuffer, type Image } from '../content.js';
import { mountBlob, pushImage, putManifest, Shed, type Target } from '../client.js';
import { forEachConcurrent, sleep } from '../pool.js';
import type { Log } from '../runner.js';

export interface ScaleShape {
  repositories: number;
  tags: number;
  /** Tags of the first repository, scale/r00000. */
  bigTags: number;
}

export const BIG_REPOSITORY = 'scale/r00000';

export function describeShape(shape: ScaleShape): string {
  const n = (v: number) => v.toLocaleString('en-US');
  return `${n(shape.repositories)} repositories, ${n(shape.tags)} tags, ${n(shape.bigTags)} in one`;
}

/** Throws unless every repository can hold at least one tag. */
export function checkShape(shape: ScaleShape): void {
  const { repositories, tags, bigTags } = shape;
  if (repositories < 2 || repositories > 100_000) throw new Error(`scale: 2 to 100,000 repositories, not ${repositories}`);
  if (bigTags < 1 || bigTags > 999_999) throw new Error(`scale: 1 to 999,999 tags in one repository, not ${bigTags}`);
  if (tags - bigTags < repositories - 1)
    throw new Error(`scale: ${tags} tags leave fewer than one for each of the other ${repositories - 1} repositories`);
}

export function repositoryName(i: number): string {
  return `scale/r${String(i).padStart(5, '0')}`;
}

export function tagName(i: number): string {
  return `t${String(i).padStart(6, '0')}`;
}

/** The repository and tag of the i-th tag overall: the big repository's first, then the others'. */
export function tagAt(shape: ScaleShape, i: number): { repository: number; tag: number } {
  if (i < shape.bigTags) return { repository: 0, tag: i };
  const others = shape.repositories - 1;
  const rest = i - shape.bigTags;
  const base = Math.floor((shape.tags - shape.bigTags) / others);
  const extra = (shape.tags - shape.bigTags) % others;
  // The first `extra` of the others hold base + 1 tags, the rest base.
  if (rest < extra * (base + 1)) return { repository: 1 + Math.floor(rest / (base + 1)), tag: rest % (base + 1) };
  const after = rest - extra * (base + 1);
  return { repository: 1 + extra + Math.floor(after / base), tag: after % base };
}

/** The image every tag points at (random bytes, made once per run). */
export function scaleImage(): Image {
  return buildImage([randomBuffer(KiB)], 'scale');
}

/** Retries a step refused cleanly under load (503 with Retry-After), at most 5 times. */
async function patiently(run: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof Shed) || attempt >= 5) throw error;
      await sleep(Math.min(error.retryAfterMs, 2000));
    }
  }
}

export interface Creation {
  seconds: number;
  /** HTTP requests made (blob pushes, mounts, manifest PUTs). */
  requests: number;
}

/** Fills an empty registry with the shape; logs progress every 15 s. */
export async function createRegistry(target: Target, shape: ScaleShape, image: Image, concurrency: number, log: Log): Promise<Creation> {
  const started = performance.now();
  let done = 0;
  let lastLog = started;
  const progress = (what: string, total: number) => {
    done++;
    const now = performance.now();
    if (now - lastLog < 15_000) return;
    lastLog = now;
    log(
      `[scale] ${target.name}: ${what} ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} (${Math.round((now - started) / 1000)} s)`,
    );
  };
  await pushImage(target, BIG_REPOSITORY, tagName(0), image);
  const blobs = [...image.layers.map((bytes, i) => ({ bytes, digest: image.layerDigests[i] })), { bytes: image.config, digest: image.configDigest }];
  const others = shape.repositories - 1;
  await forEachConcurrent(others, concurrency, async (i) => {
    for (const blob of blobs) await patiently(() => mountBlob(target, repositoryName(i + 1), BIG_REPOSITORY, blob.digest, blob.bytes));
    progress('repositories', others);
  });
  done = 0;
  await forEachConcurrent(shape.tags - 1, concurrency, async (i) => {
    const { repository, tag } = tagAt(shape, i + 1);
    await patiently(() => putManifest(target, repositoryName(repository), tagName(tag), image.manifest, image.manifestDigest));
    progress('tags', shape.tags);
  });
  return { seconds: (performance.now() - started) / 1000, requests: 2 * blobs.length + 1 + others * blobs.length + shape.tags - 1 };
}

/**
 * Re-PUTs existing tags of the big repository (same manifest, so no listing changes) every
 * `intervalMs` until stopped: the writes a busy registry sees while it is listed, which invalidate
 * whatever a registry caches of its listings. stop() returns the writes made, or rethrows a failure.
 */
export function rewriteTags(target: Target, shape: ScaleShape, image: Image, intervalMs: number): { stop(): Promise<number> } {
  let stopped = false;
  let writes = 0;
  let failure: unknown;
  const loop = (async () => {
    for (let n = 0; !stopped; n++) {
      const next = performance.now() + intervalMs;
      await putManifest(target, BIG_REPOSITORY, tagName(n % Math.min(100, shape.bigTags)), image.manifest, image.manifestDigest);
      writes++;
      const wait = next - performance.now();
      if (wait > 0 && !stopped) await sleep(wait);
    }
  })().catch((error: unknown) => {
    failure = error;
  });
  return {
    async stop() {
      stopped = true;
      await loop;
      if (failure) throw failure;
      return writes;
    },
  };
}
