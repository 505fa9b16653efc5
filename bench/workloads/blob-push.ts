// Blob pushes of one large blob: monolithic (POST, then one PUT of the whole blob) and chunked
// (POST, PATCHes of 8 MiB with Content-Range, then PUT with the digest). Each round pushes a blob
// neither registry has seen; the timed part is the upload, a HEAD afterwards checks the size.
// The monolithic push also runs on stowage on S3 (the S3 column of issue 5).
import type { BenchContext } from '../context.js';
import { MB, MiB, randomBuffer, stampBuffer } from '../content.js';
import { expectBlob, pushBlob, pushBlobChunked, type Target } from '../client.js';
import { seconds } from '../pool.js';
import type { Workload } from '../runner.js';

const REPOSITORY = 'bench/push';

export function blobPushWorkloads({ options }: BenchContext): Workload<Target>[] {
  const size = options.blobBytes;
  let buffer: Buffer | undefined;

  async function timedPush(target: Target, label: string, push: (bytes: Buffer, digest: string) => Promise<void>) {
    buffer ??= randomBuffer(size);
    const digest = stampBuffer(buffer, `${label} ${target.name} ${Date.now()}`);
    const started = performance.now();
    await push(buffer, digest);
    const s = seconds(started);
    await expectBlob(target, REPOSITORY, digest, size);
    return { mbps: size / MB / s };
  }

  return [
    {
      id: 'push-monolithic',
      title: `Blob push, monolithic, ${size / MiB} MiB`,
      metrics: [{ key: 'mbps', label: 'throughput', unit: 'MB/s', better: 'higher', ceiling: 'sha256' }],
      targets: ['stowage', 'reference', 'stowage-s3'],
      run: (target, round) => timedPush(target, `monolithic ${round}`, (bytes, digest) => pushBlob(target, REPOSITORY, bytes, digest)),
    },
    {
      id: 'push-chunked',
      title: `Blob push, chunked in ${options.chunkBytes / MiB} MiB PATCHes, ${size / MiB} MiB`,
      metrics: [{ key: 'mbps', label: 'throughput', unit: 'MB/s', better: 'higher', ceiling: 'sha256' }],
      run: (target, round) =>
        timedPush(target, `chunked ${round}`, (bytes, digest) => pushBlobChunked(target, REPOSITORY, bytes, digest, options.chunkBytes)),
    },
  ];
}
