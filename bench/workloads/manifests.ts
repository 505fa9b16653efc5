// Manifests: GET by tag under wrk (every response checked in Lua: status and exact bytes) and HEAD
// by tag under ab (status of every response; headers checked with Node before and after), against
// both registries and the bare Node http server that serves the same bytes from memory (the
// framework ceiling); and 1,000 manifest PUTs, 16 at a time.
import type { BenchContext } from '../context.js';
import { imageManifest, OCI_CONFIG, OCI_LAYER, sha256, type Image } from '../content.js';
import { runAbHead } from '../ab.js';
import { expectManifest, expectManifestHead, MANIFEST_ACCEPT, pushBlob, pushImage, putManifest, type Target } from '../client.js';
import { forEachConcurrent, seconds } from '../pool.js';
import type { Workload } from '../runner.js';
import { runWrk } from '../wrk.js';

const REPOSITORY = 'bench/manifest';
const PUT_REPOSITORY = 'bench/manifestput';
const TAG = 'latest';

export function manifestWorkloads({ options, workDir, manifest }: BenchContext): Workload<Target>[] {
  const { image, file } = manifest;
  const pushed = new Set<string>();
  const ensurePushed = async (target: Target) => {
    if (target.name === 'node-http' || pushed.has(target.name)) return;
    await pushImage(target, REPOSITORY, TAG, image);
    await expectManifest(target, REPOSITORY, TAG, image.manifest, image.manifestDigest);
    pushed.add(target.name);
  };
  const url = (target: Target) => new URL(`/v2/${REPOSITORY}/manifests/${TAG}`, target.base).href;
  const wrkMetrics = [
    { key: 'rps', label: 'requests', unit: 'req/s', better: 'higher' as const },
    { key: 'p99', label: 'p99 latency', unit: 'ms', better: 'lower' as const },
  ];
  const load = `wrk -t${options.wrk.threads} -c${options.wrk.connections} -d${options.wrk.seconds}s`;
  const headLoad = `ab -k -c${options.wrk.connections} -t${options.wrk.seconds}`;

  return [
    {
      id: 'manifest-get',
      title: `Manifest GET by tag (${image.manifest.length} bytes), ${load}`,
      targets: ['stowage', 'reference', 'node-http'],
      metrics: wrkMetrics,
      setup: ensurePushed,
      async run(target) {
        const r = await runWrk(url(target), { headers: { Accept: MANIFEST_ACCEPT }, status: 200, bodyFile: file }, options.wrk, workDir);
        return { rps: r.rps, p99: r.p99Ms };
      },
    },
    {
      id: 'manifest-head',
      title: `Manifest HEAD by tag, ${headLoad}`,
      targets: ['stowage', 'reference', 'node-http'],
      metrics: wrkMetrics,
      setup: ensurePushed,
      async run(target) {
        const head = () => expectManifestHead(target, REPOSITORY, TAG, image.manifest.length, image.manifestDigest);
        await head();
        const r = await runAbHead(url(target), { Accept: MANIFEST_ACCEPT }, options.wrk, workDir);
        await head();
        return { rps: r.rps, p99: r.p99Ms };
      },
    },
    manifestPutWorkload(options.manifestPuts, options.concurrency, image),
  ];
}

/** Distinct manifests (an annotation numbers them) over blobs pushed once, each under its own tag. */
function manifestPutWorkload(count: number, concurrency: number, image: Image): Workload<Target> {
  const config = { mediaType: OCI_CONFIG, digest: image.configDigest, size: image.config.length };
  const layers = image.layers.map((l, i) => ({ mediaType: OCI_LAYER, digest: image.layerDigests[i], size: l.length }));
  return {
    id: 'manifest-put',
    title: `Manifest PUT, ${count} distinct manifests, concurrency ${concurrency}`,
    metrics: [{ key: 'ops', label: 'manifests stored', unit: 'ops/s', better: 'higher' }],
    async setup(target) {
      for (let i = 0; i < image.layers.length; i++) await pushBlob(target, PUT_REPOSITORY, image.layers[i], image.layerDigests[i]);
      await pushBlob(target, PUT_REPOSITORY, image.config, image.configDigest);
    },
    async run(target, round) {
      const manifests = Array.from({ length: count }, (_, i) => imageManifest(config, layers, { 'bench.put': `${target.name} ${round} ${i}` }));
      const digests = manifests.map((m) => sha256(m));
      const started = performance.now();
      await forEachConcurrent(count, concurrency, (i) => putManifest(target, PUT_REPOSITORY, `r${round}t${i}`, manifests[i], digests[i]));
      const s = seconds(started);
      await expectManifest(target, PUT_REPOSITORY, `r${round}t${count - 1}`, manifests[count - 1], digests[count - 1]);
      return { ops: count / s };
    },
  };
}
