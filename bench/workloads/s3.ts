// The S3 column (issue 5): stowage on s3rver next to stowage and the reference on the filesystem,
// for the 64 MiB monolithic push, the 64 MiB pull and the skopeo pull (those workloads list the
// `stowage-s3` target; the reference's S3 driver cannot run on s3rver). This module adds what
// explains the figures: s3rver alone, driven by the minio client with the requests stowage makes
// (multipart upload, CopyObject, GET), and the section on where the time goes, from the CPU
// seconds of stowage and s3rver in each round (cpu.ts).
import { Client, CopyDestinationOptions, CopySourceOptions } from 'minio';
import type { Readable } from 'node:stream';
import type { BenchContext } from '../context.js';
import { MB, MiB, randomBuffer, stampBuffer } from '../content.js';
import { cpuSeconds, SERVER_CPU, STORAGE_CPU } from '../cpu.js';
import { WrongAnswer } from '../client.js';
import { seconds } from '../pool.js';
import type { Section } from '../report.js';
import { formatNumber, summarize, type Workload, type WorkloadResult } from '../runner.js';
import { S3RVER_KEY, type LaunchedS3rver, type S3Storage } from '../servers.js';

/** The workloads with an S3 column; main.ts records their CPU time. */
export const S3_COLUMN = ['push-monolithic', 'pull-1', 'skopeo-copy'];

/** stowage's default multipart part size (storage.s3.chunksize), set explicitly for both sides. */
const PART_BYTES = 10 * MiB;
const BASELINE_PREFIX = 'baseline';

export function stowageS3Storage(s3rver: LaunchedS3rver): S3Storage {
  return {
    regionendpoint: s3rver.endpoint,
    region: 'us-east-1',
    bucket: s3rver.bucket,
    accesskey: S3RVER_KEY,
    secretkey: S3RVER_KEY,
    rootdirectory: 'registry',
    forcepathstyle: true,
    chunksize: PART_BYTES,
  };
}

export interface S3rverTarget {
  name: 's3rver';
  pid: number;
}

async function drain(stream: Readable): Promise<number> {
  let length = 0;
  for await (const chunk of stream) length += (chunk as Buffer).length;
  return length;
}

/** The low-level multipart calls stowage's driver makes (s3rver has no ListMultipartUploads). */
async function multipartUpload(client: Client, bucket: string, name: string, bytes: Buffer): Promise<void> {
  const uploadId = await client.initiateNewMultipartUpload(bucket, name, { 'Content-Type': 'application/octet-stream' });
  const parts: Array<{ part: number; etag: string }> = [];
  for (let start = 0; start < bytes.length; start += PART_BYTES) {
    const part = parts.length + 1;
    const { etag } = await client.uploadPart(
      { bucketName: bucket, objectName: name, uploadID: uploadId, partNumber: part, headers: {} },
      bytes.subarray(start, start + PART_BYTES),
    );
    parts.push({ part, etag });
  }
  await client.completeMultipartUpload(bucket, name, uploadId, parts);
}

/**
 * s3rver alone: per round, the requests behind one monolithic push (multipart upload of 64 MiB
 * in stowage's part size, then the CopyObject that moves it to its content address), one 64 MiB
 * GET, and GETs of the 5-layer image's blobs all at once, as skopeo's pull makes stowage do.
 */
export function s3rverAloneWorkload({ options, layeredImage }: BenchContext, s3rver: LaunchedS3rver): Workload<S3rverTarget> {
  const client = new Client({
    endPoint: '127.0.0.1',
    port: s3rver.port,
    useSSL: false,
    region: 'us-east-1',
    accessKey: S3RVER_KEY,
    secretKey: S3RVER_KEY,
    pathStyle: true,
  });
  const size = options.blobBytes;
  let buffer: Buffer | undefined;
  const blobName = (i: number) => `${BASELINE_PREFIX}/image/${i}`;
  const blobs = () => {
    const image = layeredImage();
    return [...image.layers, image.config];
  };
  const timed = async (step: () => Promise<void>) => {
    const cpu = cpuSeconds(s3rver.pid);
    const started = performance.now();
    await step();
    return { s: seconds(started), cpu: cpuSeconds(s3rver.pid) - cpu };
  };
  return {
    id: 's3rver-alone',
    title: `s3rver alone, driven by the minio client (${PART_BYTES / MiB} MiB parts)`,
    targets: ['s3rver'],
    metrics: [
      { key: 'put', label: `multipart upload of ${size / MiB} MiB`, unit: 's', better: 'lower', digits: 2 },
      { key: 'copy', label: `CopyObject of ${size / MiB} MiB`, unit: 's', better: 'lower', digits: 2 },
      { key: 'get', label: `GET of ${size / MiB} MiB`, unit: 's', better: 'lower', digits: 2 },
      { key: 'image', label: `GET of the ${options.skopeoLayersMiB.length}-layer image's blobs at once`, unit: 's', better: 'lower', digits: 2 },
    ],
    async setup() {
      for (const [i, bytes] of blobs().entries()) await multipartUpload(client, s3rver.bucket, blobName(i), bytes);
    },
    async run(_target, round) {
      buffer ??= randomBuffer(size);
      stampBuffer(buffer, `s3rver alone ${round} ${Date.now()}`);
      const upload = `${BASELINE_PREFIX}/upload-${round}`;
      const blob = `${BASELINE_PREFIX}/blob-${round}`;
      const put = await timed(() => multipartUpload(client, s3rver.bucket, upload, buffer!));
      const copy = await timed(async () => {
        await client.copyObject(
          new CopySourceOptions({ Bucket: s3rver.bucket, Object: upload }),
          new CopyDestinationOptions({ Bucket: s3rver.bucket, Object: blob }),
        );
        await client.removeObject(s3rver.bucket, upload);
      });
      const get = await timed(async () => {
        const length = await drain(await client.getObject(s3rver.bucket, blob));
        if (length !== size) throw new WrongAnswer(`s3rver GET ${blob}: ${length} bytes, expected ${size}`);
      });
      const image = await timed(async () => {
        const lengths = await Promise.all(blobs().map(async (_, i) => drain(await client.getObject(s3rver.bucket, blobName(i)))));
        const wrong = lengths.findIndex((length, i) => length !== blobs()[i].length);
        if (wrong >= 0) throw new WrongAnswer(`s3rver GET ${blobName(wrong)}: ${lengths[wrong]} bytes, expected ${blobs()[wrong].length}`);
      });
      await client.removeObject(s3rver.bucket, blob);
      return {
        put: put.s,
        copy: copy.s,
        get: get.s,
        image: image.s,
        putCpu: put.cpu,
        copyCpu: copy.cpu,
        getCpu: get.cpu,
        imageCpu: image.cpu,
      };
    },
  };
}

function median(result: WorkloadResult | undefined, target: string, key: string): number | undefined {
  const outcome = result?.outcomes.get(target);
  if (!outcome || outcome.error) return undefined;
  return summarize(outcome.samples[key] ?? [])?.median;
}

const seconds2 = (v: number | undefined) => (v === undefined ? '–' : formatNumber(v, 2));
const percent = (part: number | undefined, whole: number | undefined) =>
  part === undefined || whole === undefined || whole <= 0 ? '–' : `${formatNumber((100 * part) / whole, 0)}%`;

/** "Where the time goes on S3": wall and CPU seconds per target, s3rver alone, and one sentence each. */
export function s3Section({ options }: BenchContext, results: WorkloadResult[], alone: WorkloadResult): Section {
  const size = options.blobBytes;
  const byId = new Map(results.map((r) => [r.id, r]));
  // Each workload's timed figure as seconds, and the s3rver-alone steps that serve the same bytes.
  const rows = [
    {
      id: 'push-monolithic',
      what: `${size / MiB} MiB monolithic push`,
      time: (mbps: number) => size / MB / mbps,
      key: 'mbps',
      alone: ['put', 'copy'],
      aloneText: 'the same multipart upload and CopyObject',
    },
    {
      id: 'pull-1',
      what: `${size / MiB} MiB pull`,
      time: (mbps: number) => size / MB / mbps,
      key: 'mbps',
      alone: ['get'],
      aloneText: 'the same GET',
    },
    {
      id: 'skopeo-copy',
      what: `skopeo pull of the ${options.skopeoLayersMiB.length}-layer image`,
      time: (s: number) => s,
      key: 'seconds',
      alone: ['image'],
      aloneText: "GETs of the image's blobs at once",
    },
  ];
  const table = [
    '| workload | stowage on filesystem: time, s / stowage CPU, s | reference on filesystem: time, s / CPU, s | stowage on S3: time, s / stowage CPU, s / s3rver CPU, s | s3rver alone (minio client): time, s / s3rver CPU, s |',
    '|---|---|---|---|---|',
  ];
  const sentences: string[] = [];
  const sum = (keys: string[], suffix = '') => {
    const values = keys.map((k) => median(alone, 's3rver', `${k}${suffix}`));
    return values.every((v) => v !== undefined) ? values.reduce((a, b) => a! + b!, 0) : undefined;
  };
  for (const row of rows) {
    const result = byId.get(row.id);
    if (!result) continue;
    const time = (target: string) => {
      const v = median(result, target, row.key);
      return v === undefined ? undefined : row.time(v);
    };
    const [fs, ref, s3] = [time('stowage'), time('reference'), time('stowage-s3')];
    const [fsCpu, refCpu, s3Cpu, s3rverCpu] = [
      median(result, 'stowage', SERVER_CPU),
      median(result, 'reference', SERVER_CPU),
      median(result, 'stowage-s3', SERVER_CPU),
      median(result, 'stowage-s3', STORAGE_CPU),
    ];
    const [aloneTime, aloneCpu] = [sum(row.alone), sum(row.alone, 'Cpu')];
    table.push(
      `| ${result.title} | ${seconds2(fs)} / ${seconds2(fsCpu)} | ${seconds2(ref)} / ${seconds2(refCpu)} | ${seconds2(s3)} / ${seconds2(s3Cpu)} / ${seconds2(s3rverCpu)} | ${seconds2(aloneTime)} / ${seconds2(aloneCpu)} |`,
    );
    if (s3 === undefined || aloneTime === undefined) {
      sentences.push(`- ${row.what}: not measured on ${s3 === undefined ? 'stowage on S3' : 's3rver alone'} (see Errors).`);
      continue;
    }
    sentences.push(
      `- ${row.what}: ${seconds2(s3)} s on S3 against ${seconds2(fs)} s on the filesystem. s3rver alone needs ${seconds2(aloneTime)} s for ${row.aloneText} ` +
        `(${percent(aloneTime, s3)} of stowage's time on S3); during the round s3rver used ${seconds2(s3rverCpu)} s of CPU and stowage ${seconds2(s3Cpu)} s ` +
        `(${seconds2(fsCpu)} s on the filesystem).`,
    );
  }
  const markdown = [
    'The S3 column above is stowage on s3rver (the `s3rver` npm package, with the fixes the S3 tests load, in its own process on 127.0.0.1, storing in the work directory), `storage.s3` with',
    `${PART_BYTES / MiB} MiB parts. The reference's S3 driver does not work against s3rver: it fails every upload with a 500 because it needs ListMultipartUploads, which s3rver lacks, so the reference has no S3 figure.`,
    '',
    "Times are the medians of the table's timed figures; CPU seconds (user + system, from /proc/<pid>/stat) are medians over whole rounds, so they include the check after each timed part. s3rver is single-threaded: its CPU seconds close to the wall time mean it is the bottleneck.",
    '',
    table.join('\n'),
    '',
    'Where the time goes:',
    '',
    ...sentences,
  ];
  return { title: 'Where the time goes on S3 (issue 5)', markdown: markdown.join('\n'), results: [alone] };
}
