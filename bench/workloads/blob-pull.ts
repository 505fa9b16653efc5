// Blob pulls of one 64 MiB blob, alone and 16 at once, each body compared byte for byte with what
// was pushed. The 16-way pull also samples the server's RSS (peak of samples and VmHWM). The
// single pull also runs on stowage on S3 (the S3 column of issue 5).
import type { BenchContext } from '../context.js';
import { MB, MiB, randomBuffer, sha256 } from '../content.js';
import { pullBlob, pushBlob, type Target } from '../client.js';
import { forEachConcurrent, seconds } from '../pool.js';
import { RssSampler } from '../rss.js';
import type { Workload } from '../runner.js';

const REPOSITORY = 'bench/pull';

export function blobPullWorkloads({ options }: BenchContext): Workload<Target>[] {
  const size = options.blobBytes;
  const concurrency = options.pullConcurrency;
  let blob: { bytes: Buffer; digest: string } | undefined;
  const pushed = new Set<string>();

  const ensurePushed = async (target: Target) => {
    if (!blob) {
      const bytes = randomBuffer(size);
      blob = { bytes, digest: sha256(bytes) };
    }
    if (pushed.has(target.name)) return;
    await pushBlob(target, REPOSITORY, blob.bytes, blob.digest);
    pushed.add(target.name);
  };

  return [
    {
      id: 'pull-1',
      title: `Blob pull, ${size / MiB} MiB, concurrency 1`,
      metrics: [{ key: 'mbps', label: 'throughput', unit: 'MB/s', better: 'higher', ceiling: 'loopback1' }],
      targets: ['stowage', 'reference', 'stowage-s3'],
      setup: ensurePushed,
      async run(target) {
        const started = performance.now();
        await pullBlob(target, REPOSITORY, blob!.digest, blob!.bytes);
        return { mbps: size / MB / seconds(started) };
      },
    },
    {
      id: `pull-${concurrency}`,
      title: `Blob pull, ${size / MiB} MiB, concurrency ${concurrency}`,
      metrics: [
        { key: 'mbps', label: 'throughput (all streams)', unit: 'MB/s', better: 'higher', ceiling: 'loopback16' },
        { key: 'rssMiB', label: 'server peak RSS', unit: 'MiB', better: 'lower' },
      ],
      setup: ensurePushed,
      async run(target) {
        const sampler = new RssSampler(target.pid, 10);
        let peak = 0;
        const started = performance.now();
        try {
          await forEachConcurrent(concurrency, concurrency, () => pullBlob(target, REPOSITORY, blob!.digest, blob!.bytes).then(() => {}));
        } finally {
          peak = sampler.stop();
        }
        return { mbps: (concurrency * size) / MB / seconds(started), rssMiB: peak / MiB };
      },
    },
  ];
}
