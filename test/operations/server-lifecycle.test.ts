// The served process as operators run it (startServer, as `stowage serve` does): metrics on
// their own address, garbage collection on a timer, and a SIGTERM-style close that lets a
// transfer in flight finish while refusing new connections.
import http from 'node:http';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { configFrom } from '../../server/config.js';
import { silentLogger } from '../../server/logger.js';
import { startServer, type RunningServer } from '../../server/serve.js';
import { randomBlob } from '../helpers/content.js';

let running: RunningServer | undefined;
let dir: string | undefined;

afterEach(async () => {
  await running?.close();
  if (dir) await fsp.rm(dir, { recursive: true, force: true });
  running = dir = undefined;
});

async function serve(extra: Record<string, unknown> = {}): Promise<RunningServer> {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'stowage-serve-'));
  const config = configFrom({
    http: { addr: '127.0.0.1:0', ...((extra.http as object) ?? {}) },
    storage: { filesystem: { rootdirectory: dir }, delete: { enabled: true } },
    log: { level: 'error' },
    ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'http')),
  });
  running = await startServer(config, silentLogger());
  return running;
}

function request(port: number, method: string, urlPath: string, body?: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the served process', () => {
  it('serves Prometheus metrics on the http.debug address when enabled', async () => {
    const server = await serve({ http: { debug: { addr: '127.0.0.1:0', prometheus: { enabled: true } } } });
    expect(server.debugPort).toBeGreaterThan(0);
    await request(server.port, 'GET', '/v2/');
    const metrics = await request(server.debugPort!, 'GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/stowage_http_requests_total\{route="base",method="GET",status="200"\} 1/);
    expect(metrics.body).toContain('stowage_process_cpu_seconds_total');
    expect((await request(server.debugPort!, 'GET', '/v2/')).status).toBe(404);
  });

  it('collects garbage on the stowage.gc timer', async () => {
    const server = await serve({ stowage: { gc: { interval: '1s', grace: '0s' } } });
    const orphan = randomBlob(2048, 61);
    expect((await request(server.port, 'POST', `/v2/team/app/blobs/uploads/?digest=${orphan.digest}`, orphan.bytes)).status).toBe(201);
    const deadline = Date.now() + 10_000;
    let status = 200;
    while (status === 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      status = (await request(server.port, 'HEAD', `/v2/team/app/blobs/${orphan.digest}`)).status;
    }
    expect(status).toBe(404);
  });

  it('on close, finishes the upload in flight and refuses new connections', async () => {
    const server = await serve();
    const start = await new Promise<string>((resolve, reject) => {
      http
        .request({ host: '127.0.0.1', port: server.port, method: 'POST', path: '/v2/team/app/blobs/uploads/' }, (res) => {
          res.resume();
          resolve(String(res.headers.location));
        })
        .on('error', reject)
        .end();
    });
    const chunk = randomBlob(256 * 1024, 62);
    // A chunk sent slowly: half now, half after close() has begun.
    const req = http.request({
      host: '127.0.0.1',
      port: server.port,
      method: 'PATCH',
      path: start,
      agent: false,
      headers: { 'Content-Length': chunk.size },
    });
    const answer = new Promise<number>((resolve, reject) => {
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
    });
    req.write(chunk.bytes.subarray(0, chunk.size / 2));
    // Wait until the server is receiving it, rather than for a while.
    const inFlight = async () => /^stowage_uploads_in_flight 1$/m.test((await request(server.port, 'GET', '/metrics')).body);
    const deadline = Date.now() + 10_000;
    while (!(await inFlight()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await inFlight()).toBe(true);
    const closed = server.close();
    running = undefined;
    await expect(request(server.port, 'GET', '/v2/')).rejects.toThrow();
    req.end(chunk.bytes.subarray(chunk.size / 2));
    expect(await answer).toBe(202);
    await closed;
  });
});
