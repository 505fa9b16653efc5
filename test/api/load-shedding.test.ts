// Load shedding: past stowage.http.maxuploads upload requests at once, or past
// maxuploadsperclient for one client (its user when logged in, else its address), another
// answers 503 UNAVAILABLE with Retry-After straight away; once the others finish, uploads go
// through again. Refusals are expected: one warning line each, counted, never an error stack.
import * as fsp from 'node:fs/promises';
import http from 'node:http';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../server/logger.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { startTestRegistry, useTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { randomBlob } from '../helpers/content.js';
import { eventually, rawRequest } from '../helpers/registry-client.js';
import { expectError } from '../helpers/expect-answer.js';
import { basic } from '../helpers/credentials.js';

const CHUNK = randomBlob(1024, 81);

interface Caller {
  /** The address the request comes from (127.0.0.0/8 all reach the server on Linux). */
  localAddress?: string;
  authorization?: string;
}

function headersOf(caller: Caller, extra: Record<string, string> = {}): Record<string, string> {
  return { ...extra, ...(caller.authorization ? { Authorization: caller.authorization } : {}) };
}

function request(
  port: number,
  method: string,
  path: string,
  caller: Caller,
  body?: Buffer,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const headers = headersOf(caller, body ? { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length) } : {});
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, localAddress: caller.localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function startSession(port: number, caller: Caller): Promise<string> {
  const res = await request(port, 'POST', '/v2/team/app/blobs/uploads/', caller);
  expect(res.status, res.text).toBe(202);
  return String(res.headers.location);
}

/**
 * A PATCH that has sent half its chunk and waits: it holds an upload slot until released.
 * Resolves once its handler has opened the upload's data file (so the slot is taken; the bytes
 * themselves wait in the driver's write buffer).
 */
async function holdUpload(port: number, root: string, caller: Caller): Promise<{ release(): Promise<number> }> {
  const location = await startSession(port, caller);
  const req = http.request({
    host: '127.0.0.1',
    port,
    method: 'PATCH',
    path: location,
    localAddress: caller.localAddress,
    agent: false,
    headers: headersOf(caller, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(CHUNK.size) }),
  });
  const answered = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
  // A test that fails while holding leaves the request to the registry's cleanup.
  answered.catch(() => {});
  req.write(CHUNK.bytes.subarray(0, 512));
  const dataFile = path.join(root, 'repositories/team/app/_uploads', location.split('/').pop()!, 'data');
  const writing = await eventually(() =>
    fsp.stat(dataFile).then(
      () => true,
      () => false,
    ),
  );
  expect(writing, 'the held upload reached its handler').toBe(true);
  return {
    release() {
      req.end(CHUNK.bytes.subarray(512));
      return answered;
    },
  };
}

/** A whole chunk to a session opened before (opening one takes a slot too). */
function patchChunk(port: number, location: string, caller: Caller) {
  return request(port, 'PATCH', location, caller, CHUNK.bytes);
}

/** The sum of a metric's series whose labels include every given `key="value"`. */
async function metric(port: number, name: string, labels: string[] = []): Promise<number> {
  const text = (await rawRequest(port, 'GET', '/metrics')).body.toString();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name && labels.every((l) => (m[2] ?? '').includes(l))) sum += Number(m[3]);
  }
  return sum;
}

function logSink(): { lines: Array<Record<string, unknown>>; stream: Writable } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { lines, stream };
}

describe('upload load shedding', () => {
  const log = logSink();
  const registry = useTestRegistry(filesystemDriverFactory, {
    config: { log: { level: 'info' }, stowage: { http: { maxuploads: 2 } } },
    logger: createLogger('info', log.stream),
  });
  afterEach(() => {
    log.lines.length = 0;
  });

  it('answers 503 with Retry-After past the limit and recovers after', async () => {
    const reg = registry();
    const later = await startSession(reg.port, {});
    const held = [await holdUpload(reg.port, reg.root, {}), await holdUpload(reg.port, reg.root, {})];

    const refused = await patchChunk(reg.port, later, {});
    expectError({ ...refused, body: Buffer.from(refused.text) }, 503, 'UNAVAILABLE');
    expect(refused.headers['retry-after']).toBe('1');

    expect(await Promise.all(held.map((h) => h.release()))).toEqual([202, 202]);
    const accepted = await patchChunk(reg.port, later, {});
    expect(accepted.status).toBe(202);
    expect(accepted.headers.range).toBe(`0-${CHUNK.size - 1}`);
  });

  it('logs a refusal as one warning line without a stack and counts it, not as an internal error', async () => {
    const reg = registry();
    const third = await startSession(reg.port, {});
    const held = [await holdUpload(reg.port, reg.root, {}), await holdUpload(reg.port, reg.root, {})];
    expect((await patchChunk(reg.port, third, {})).status).toBe(503);
    await Promise.all(held.map((h) => h.release()));

    const refusals = log.lines.filter((l) => l.reason === 'uploads');
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ level: 40, status: 503, code: 'UNAVAILABLE' });
    expect(JSON.stringify(refusals[0])).not.toContain('"stack"');
    expect(log.lines.filter((l) => (l.level as number) >= 50)).toEqual([]);
    expect(await metric(reg.port, 'stowage_requests_refused_total', ['reason="uploads"'])).toBe(1);
    expect(await metric(reg.port, 'stowage_http_requests_total', ['route="upload"', 'method="PATCH"', 'status="503"'])).toBe(1);
    expect(await metric(reg.port, 'stowage_storage_errors_total')).toBe(0);
  });
});

describe('upload slots per client address', () => {
  const registry = useTestRegistry(filesystemDriverFactory, { config: { stowage: { http: { maxuploads: 4, maxuploadsperclient: 2 } } } });

  it('refuses a client past its share while another client still pushes', async () => {
    const reg = registry();
    const greedy = { localAddress: '127.0.0.1' };
    const other = { localAddress: '127.0.0.2' };
    const [third, others] = [await startSession(reg.port, greedy), await startSession(reg.port, other)];
    const held = [await holdUpload(reg.port, reg.root, greedy), await holdUpload(reg.port, reg.root, greedy)];

    const refused = await patchChunk(reg.port, third, greedy);
    expectError({ ...refused, body: Buffer.from(refused.text) }, 503, 'UNAVAILABLE');
    expect(refused.headers['retry-after']).toBe('1');
    expect(JSON.parse(refused.text).errors[0].detail).toEqual({ limit: 2 });

    const served = await patchChunk(reg.port, others, other);
    expect(served.status, served.text).toBe(202);

    expect(await Promise.all(held.map((h) => h.release()))).toEqual([202, 202]);
    expect((await patchChunk(reg.port, third, greedy)).status).toBe(202);
  });
});

describe('upload slots per user with auth', () => {
  let reg: TestRegistry | undefined;
  afterEach(async () => {
    await reg?.cleanup();
    reg = undefined;
  });

  it('bounds a logged-in user across addresses, and not users who share an address', async () => {
    reg = await startTestRegistry(filesystemDriverFactory, {
      users: { alice: 'alice-pw', bob: 'bob-pw' },
      config: (p) => ({ auth: { htpasswd: { realm: 'r', path: p.htpasswd } }, stowage: { http: { maxuploads: 8, maxuploadsperclient: 2 } } }),
      logs: true,
    });
    const alice = { authorization: basic('alice', 'alice-pw'), localAddress: '127.0.0.1' };
    const aliceElsewhere = { authorization: alice.authorization, localAddress: '127.0.0.2' };
    const bob = { authorization: basic('bob', 'bob-pw'), localAddress: '127.0.0.1' };
    const [third, bobs] = [await startSession(reg.port, aliceElsewhere), await startSession(reg.port, bob)];
    const held = [await holdUpload(reg.port, reg.paths.root, alice), await holdUpload(reg.port, reg.paths.root, alice)];

    const refused = await patchChunk(reg.port, third, aliceElsewhere);
    expectError({ ...refused, body: Buffer.from(refused.text) }, 503, 'UNAVAILABLE');
    expect(refused.headers['retry-after']).toBe('1');
    // bob comes from the address alice holds two slots from: behind a reverse proxy every user would.
    const served = await patchChunk(reg.port, bobs, bob);
    expect(served.status, served.text).toBe(202);

    expect(await Promise.all(held.map((h) => h.release()))).toEqual([202, 202]);
    expect((await patchChunk(reg.port, third, alice)).status).toBe(202);
  });
});
