// The machine's ceilings, measured in the same run as the registries: reading a 64 MiB file from
// the page cache, a plain loopback TCP copy of 64 MiB (one connection and 16 at once, the source
// a separate process), and sha256 over 64 MiB in Node. Blob figures are shown against these.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { BenchContext } from '../context.js';
import { MB, randomBuffer } from '../content.js';
import { forEachConcurrent, seconds } from '../pool.js';
import type { Workload } from '../runner.js';
import { launchTcpSource } from '../servers.js';

export interface Machine {
  name: 'machine';
}

const READ_CHUNK = 1024 * 1024;

function readFileThroughput(file: string, size: number): number {
  const buffer = Buffer.allocUnsafe(READ_CHUNK);
  const started = performance.now();
  const fd = openSync(file, 'r');
  let total = 0;
  try {
    for (let n; (n = readSync(fd, buffer, 0, READ_CHUNK, null)) > 0;) total += n;
  } finally {
    closeSync(fd);
  }
  const s = seconds(started);
  if (total !== size) throw new Error(`read ${total} bytes of ${size}`);
  return size / MB / s;
}

function receive(port: number, size: number): Promise<void> {
  return new Promise((ok, fail) => {
    let total = 0;
    const socket = net.connect(port, '127.0.0.1');
    socket.on('data', (chunk: Buffer) => (total += chunk.length));
    socket.on('end', () => (total === size ? ok() : fail(new Error(`loopback copy got ${total} bytes of ${size}`))));
    socket.on('error', fail);
    socket.setTimeout(60_000, () => socket.destroy(new Error('loopback copy timed out')));
  });
}

async function loopbackThroughput(port: number, size: number, concurrency: number): Promise<number> {
  const started = performance.now();
  await forEachConcurrent(concurrency, concurrency, () => receive(port, size));
  return (concurrency * size) / MB / seconds(started);
}

function sha256Throughput(bytes: Buffer): number {
  const started = performance.now();
  const hash = createHash('sha256');
  for (let at = 0; at < bytes.length; at += READ_CHUNK) hash.update(bytes.subarray(at, at + READ_CHUNK));
  hash.digest();
  return bytes.length / MB / seconds(started);
}

export function ceilingWorkload({ options, workDir }: BenchContext): Workload<Machine> & { stop(): Promise<void> } {
  const size = options.blobBytes;
  const file = join(workDir, 'ceiling.bin');
  let bytes: Buffer | undefined;
  let source: Awaited<ReturnType<typeof launchTcpSource>> | undefined;
  return {
    id: 'ceilings',
    title: `Machine ceilings (${size / 1024 / 1024} MiB)`,
    targets: ['machine'],
    metrics: [
      { key: 'pageCache', label: 'read a file from page cache', unit: 'MB/s', better: 'higher' },
      { key: 'loopback1', label: 'loopback TCP copy, 1 connection', unit: 'MB/s', better: 'higher' },
      { key: 'loopback16', label: `loopback TCP copy, ${options.pullConcurrency} at once`, unit: 'MB/s', better: 'higher' },
      { key: 'sha256', label: 'sha256 in Node', unit: 'MB/s', better: 'higher' },
    ],
    async setup() {
      bytes = randomBuffer(size);
      writeFileSync(file, bytes);
      readFileThroughput(file, size); // warm the page cache
      source = await launchTcpSource(workDir, size);
    },
    async run() {
      return {
        pageCache: readFileThroughput(file, size),
        loopback1: await loopbackThroughput(source!.port, size, 1),
        loopback16: await loopbackThroughput(source!.port, size, options.pullConcurrency),
        sha256: sha256Throughput(bytes!),
      };
    },
    async stop() {
      await source?.stop();
    },
  };
}
