// The HTTP server as `stowage serve` starts it (server/serve.ts), against clients that hold
// connections open or send what the HTTP parser should refuse: slow-loris headers and uploads
// (stowage.http.headerstimeout / idletimeout, shortened here), oversized headers
// (maxheadersize), and hostile Content-Length framing. Connections are closed, the answers are
// the expected ones, the server keeps serving, and nothing committed changes.
import * as fsp from 'node:fs/promises';
import net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configFrom } from '../../server/config.js';
import { silentLogger } from '../../server/logger.js';
import { startServer, type RunningServer } from '../../server/serve.js';
import { blobOf } from '../helpers/content.js';
import { rawRequest } from '../helpers/registry-client.js';
import { basic, writeHtpasswd } from '../helpers/credentials.js';
import { snapshot } from '../helpers/fs-snapshot.js';

const IDLE_MS = 1000;
const HEADERS_MS = 1000;
/** Slack for timers and a loaded CI machine. */
const SLACK_MS = 2500;

interface Exchange {
  /** Everything the server sent. */
  answer: string;
  /** Milliseconds from connecting until the server closed the connection (or we gave up). */
  closedAfterMs: number;
  closedByServer: boolean;
}

/**
 * Writes the given pieces (a function is called every interval to produce the next piece, for
 * trickling) and waits up to giveUpMs for the server to close the connection.
 */
function exchange(
  port: number,
  first: string | Buffer,
  options: { trickle?: () => string; intervalMs?: number; giveUpMs?: number } = {},
): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const started = Date.now();
    let answer = '';
    let timer: NodeJS.Timeout | undefined;
    let gaveUp = false;
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => {
      if (timer) clearInterval(timer);
      clearTimeout(deadline);
      resolve({ answer, closedAfterMs: Date.now() - started, closedByServer: !gaveUp });
    });
    socket.write(first);
    if (options.trickle) timer = setInterval(() => socket.write(options.trickle!()), options.intervalMs ?? 200);
    const deadline = setTimeout(() => {
      gaveUp = true;
      socket.destroy();
    }, options.giveUpMs ?? 10_000);
  });
}

/**
 * A client in a worker thread (its own event loop, as a real client process has), for `rounds`
 * requests one after the other: each sends the head, then writes the declared body as fast as
 * the connection takes it while reading whatever comes back. A write made after the server
 * dropped the connection fails with EPIPE, and the answer that had arrived is then never read.
 */
const STREAMING_CLIENT = `
const net = require('node:net');
const { parentPort, workerData } = require('node:worker_threads');
const { port, head, length, rounds } = workerData;
function once() {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunk = Buffer.alloc(16 * 1024, 0x20);
    let answer = '', error, sent = 0;
    socket.on('data', (d) => (answer += d.toString('latin1')));
    socket.on('error', (e) => (error = e.code));
    socket.on('close', () => { clearTimeout(giveUp); resolve({ answer: answer.slice(0, 400), error }); });
    const pump = () => {
      while (!socket.destroyed && !socket.writableEnded && sent < length) {
        sent += chunk.length;
        if (!socket.write(chunk)) return void socket.once('drain', pump);
      }
    };
    socket.write(head);
    pump();
    const giveUp = setTimeout(() => socket.destroy(), 10000);
  });
}
(async () => {
  const results = [];
  for (let i = 0; i < rounds; i++) results.push(await once());
  parentPort.postMessage(results);
})();
`;

async function streamingClients(port: number, head: string, length: number, rounds: number): Promise<Array<{ answer: string; error?: string }>> {
  const worker = new Worker(STREAMING_CLIENT, { eval: true, workerData: { port, head, length, rounds } });
  try {
    return await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  } finally {
    await worker.terminate();
  }
}

describe('socket limits of the real server', () => {
  let dir: string;
  let root: string;
  let running: RunningServer;

  async function start(extra: Record<string, unknown> = {}) {
    const config = configFrom({
      http: { addr: '127.0.0.1:0', draintimeout: '1s' },
      log: { level: 'error' },
      storage: { filesystem: { rootdirectory: root }, delete: { enabled: true } },
      stowage: { http: { idletimeout: `${IDLE_MS}ms`, headerstimeout: `${HEADERS_MS}ms`, maxheadersize: 8192 } },
      ...extra,
    });
    running = await startServer(config, silentLogger());
  }

  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'stowage-sockets-'));
    root = path.join(dir, 'root');
    await fsp.mkdir(root);
  });

  afterEach(async () => {
    await running?.close();
    await fsp.rm(dir, { recursive: true, force: true });
  });

  async function stillServes() {
    const res = await rawRequest(running.port, 'GET', '/v2/');
    expect(res.status).toBe(200);
  }

  describe('without auth', () => {
    beforeEach(() => start());

    it('closes a connection that never sends a request after the idle timeout', async () => {
      const result = await exchange(running.port, '');
      expect(result.closedByServer).toBe(true);
      expect(result.closedAfterMs).toBeGreaterThanOrEqual(IDLE_MS - 100);
      expect(result.closedAfterMs).toBeLessThan(IDLE_MS + SLACK_MS);
      await stillServes();
    });

    it('answers 408 and closes a connection whose headers trickle in past the headers timeout', async () => {
      let n = 0;
      const result = await exchange(running.port, 'GET /v2/ HTTP/1.1\r\nHost: registry\r\n', {
        trickle: () => `X-Slow-${n++}: a\r\n`,
        intervalMs: 150,
      });
      expect(result.closedByServer).toBe(true);
      expect(result.answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(result.closedAfterMs).toBeLessThan(HEADERS_MS + SLACK_MS);
      await stillServes();
    });

    it('closes a chunk upload that stalls, commits nothing, and the upload resumes where it says', async () => {
      const started = await rawRequest(running.port, 'POST', '/v2/library/app/blobs/uploads/');
      expect(started.status).toBe(202);
      const location = started.headers.location!;
      const blob = blobOf(Buffer.alloc(1000, 7));
      const before = await snapshot(root);
      const result = await exchange(
        running.port,
        Buffer.concat([
          Buffer.from(`PATCH ${location} HTTP/1.1\r\nHost: registry\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n`),
          blob.bytes.subarray(0, 100),
        ]),
      );
      expect(result.closedByServer).toBe(true);
      expect(result.closedAfterMs).toBeLessThan(IDLE_MS + SLACK_MS);
      // Only the upload's own data may differ: no blob, link, tag or revision appeared.
      const after = await snapshot(root);
      const outsideUpload = (m: Map<string, string>) => [...m].filter(([key]) => !key.includes('/_uploads/'));
      expect(outsideUpload(after)).toEqual(outsideUpload(before));
      // The upload reports what it holds, and finishing from there gives the right blob.
      const status = await rawRequest(running.port, 'GET', location);
      expect(status.status).toBe(204);
      const dataFile = path.join(root, 'repositories/library/app/_uploads', location.split('/').pop()!, 'data');
      const size = await fsp.stat(dataFile).then(
        (st) => st.size,
        () => 0,
      );
      expect(size).toBeLessThanOrEqual(100);
      expect(status.headers.range).toBe(`0-${Math.max(0, size - 1)}`);
      const rest = blob.bytes.subarray(size);
      const finish = await rawRequest(running.port, 'PUT', `${location}?digest=${blob.digest}`, {
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(rest.length), 'Content-Range': `${size}-${blob.size - 1}` },
        chunks: [rest],
      });
      expect(finish.status, finish.body.toString()).toBe(201);
    });

    it('closes a monolithic upload that stalls and keeps no file of it', async () => {
      const blob = blobOf(Buffer.alloc(5000, 9));
      const before = await snapshot(root);
      const result = await exchange(
        running.port,
        Buffer.concat([
          Buffer.from(
            `POST /v2/library/app/blobs/uploads/?digest=${blob.digest} HTTP/1.1\r\nHost: registry\r\nContent-Type: application/octet-stream\r\nContent-Length: 5000\r\n\r\n`,
          ),
          blob.bytes.subarray(0, 1000),
        ]),
      );
      expect(result.closedByServer).toBe(true);
      expect(result.closedAfterMs).toBeLessThan(IDLE_MS + SLACK_MS);
      // The abandoned upload is cancelled once the server notices; only empty directories remain
      // (no object store has them), which name no repository.
      const files = async () => JSON.stringify([...(await snapshot(root))].filter(([, hash]) => hash !== 'dir'));
      const expected = JSON.stringify([...before].filter(([, hash]) => hash !== 'dir'));
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && (await files()) !== expected) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await files()).toBe(expected);
      expect((await rawRequest(running.port, 'HEAD', `/v2/library/app/blobs/${blob.digest}`)).status).toBe(404);
      expect(JSON.parse((await rawRequest(running.port, 'GET', '/v2/_catalog')).body.toString()).repositories).toEqual([]);
    });

    it('answers 431 to headers over maxheadersize and keeps serving', async () => {
      const result = await exchange(running.port, `GET /v2/ HTTP/1.1\r\nHost: registry\r\nX-Big: ${'a'.repeat(10_000)}\r\n\r\n`);
      expect(result.answer).toMatch(/^HTTP\/1\.1 431 /);
      expect(result.closedByServer).toBe(true);
      await stillServes();
    });

    it.each([
      ['a negative Content-Length', 'Content-Length: -1'],
      ['a Content-Length that is no number', 'Content-Length: ten'],
      ['a Content-Length beyond 64 bits', 'Content-Length: 99999999999999999999999'],
      ['two different Content-Lengths', 'Content-Length: 5\r\nContent-Length: 6'],
      ['Content-Length with chunked framing', 'Content-Length: 5\r\nTransfer-Encoding: chunked'],
      ['an unknown transfer coding', 'Transfer-Encoding: gzip'],
    ])('answers 400 to %s and stores nothing', async (_what, framing) => {
      const before = await snapshot(root);
      const result = await exchange(running.port, `POST /v2/library/app/blobs/uploads/ HTTP/1.1\r\nHost: registry\r\n${framing}\r\n\r\nhello`);
      expect(result.answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(result.closedByServer).toBe(true);
      expect(await snapshot(root)).toEqual(before);
      await stillServes();
    });

    it('answers 413 to a manifest declared larger than 4 MiB at once, and closes the connection', async () => {
      const before = await snapshot(root);
      const result = await exchange(
        running.port,
        'PUT /v2/library/app/manifests/v1 HTTP/1.1\r\nHost: registry\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 9007199254740993\r\n\r\n{',
      );
      expect(result.answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(result.answer).toContain('"code":"SIZE_INVALID"');
      expect(result.closedByServer).toBe(true);
      expect(result.closedAfterMs).toBeLessThan(IDLE_MS);
      expect(await snapshot(root)).toEqual(before);
    });
  });

  describe('refusing a body that keeps arriving', () => {
    beforeEach(() => start());

    it('lets a client still writing a manifest over the limit read its 413 (many rounds)', async () => {
      const length = 64 * 1024 * 1024;
      const head = `PUT /v2/library/app/manifests/v1 HTTP/1.1\r\nHost: registry\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: ${length}\r\n\r\n`;
      // Closing while the body still arrived lost the answer to EPIPE in about half the tries.
      const results = await streamingClients(running.port, head, length, 30);
      const missed = results
        .map((r, round) => ({ round, ...r }))
        .filter((r) => !/^HTTP\/1\.1 413 /.test(r.answer) || !r.answer.includes('"code":"SIZE_INVALID"'));
      expect(missed).toEqual([]);
      await stillServes();
    });
  });

  describe('with auth', () => {
    beforeEach(async () => {
      await writeHtpasswd(path.join(dir, 'htpasswd'), { alice: 'alice-pw' });
      await start({ auth: { htpasswd: { realm: 'r', path: path.join(dir, 'htpasswd') } } });
    });

    it('answers 401 to an unauthenticated upload before its body and closes the connection', async () => {
      const before = await snapshot(root);
      const result = await exchange(
        running.port,
        'POST /v2/library/app/blobs/uploads/?digest=sha256:' +
          'a'.repeat(64) +
          ' HTTP/1.1\r\nHost: registry\r\nContent-Length: 1073741824\r\n\r\nstart of a gigabyte',
      );
      expect(result.answer).toMatch(/^HTTP\/1\.1 401 /);
      expect(result.answer).toContain('WWW-Authenticate: Basic realm="r"');
      expect(result.closedByServer).toBe(true);
      expect(result.closedAfterMs).toBeLessThan(IDLE_MS);
      expect(await snapshot(root)).toEqual(before);
    });

    it('keeps answering logged-in clients', async () => {
      const res = await rawRequest(running.port, 'GET', '/v2/', { headers: { Authorization: basic('alice', 'alice-pw') } });
      expect(res.status).toBe(200);
    });
  });
});
