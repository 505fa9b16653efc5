// Many small blob pushes (2,000 blobs of 4 KiB, 16 at a time, each a POST and a PUT), fresh
// content every round. The push replies are checked (201 and digest); every 10th blob is then
// checked with a HEAD, outside the timing.
import type { BenchContext } from '../context.js';
import { KiB, randomBuffer, sha256 } from '../content.js';
import { expectBlob, pushBlob, type Target } from '../client.js';
import { forEachConcurrent, seconds } from '../pool.js';
import type { Workload } from '../runner.js';

const REPOSITORY = 'bench/small';

export function smallBlobWorkload({ options }: BenchContext): Workload<Target> {
  const { smallBlobs: count, smallBlobBytes: size, concurrency } = options;
  return {
    id: 'push-small',
    title: `Small blob push, ${count} x ${size / KiB} KiB, concurrency ${concurrency}`,
    metrics: [{ key: 'ops', label: 'blobs pushed', unit: 'ops/s', better: 'higher' }],
    async run(target) {
      const data = randomBuffer(count * size);
      const blobs = Array.from({ length: count }, (_, i) => data.subarray(i * size, (i + 1) * size));
      const digests = blobs.map((b) => sha256(b));
      const started = performance.now();
      await forEachConcurrent(count, concurrency, (i) => pushBlob(target, REPOSITORY, blobs[i], digests[i]));
      const s = seconds(started);
      await forEachConcurrent(Math.ceil(count / 10), concurrency, (i) => expectBlob(target, REPOSITORY, digests[i * 10], size));
      return { ops: count / s };
    },
  };
}
