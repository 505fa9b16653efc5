// The registry client the workloads share: one HTTP request helper over Node's http module with
// keep-alive agents, and the registry operations built on it (push, mount, manifest put, pull).
// Every answer is checked here: status, headers that carry a digest, and body bytes.
import http from 'node:http';
import { OCI_MANIFEST, type Image } from './content.js';

/** A server under test. `pid` is the server process, for RSS; `agent` keeps connections alive. */
export interface Target {
  name: string;
  label: string;
  base: URL;
  agent: http.Agent;
  pid: number;
  /** The storage server's process where there is one (s3rver for stowage on S3). */
  storagePid?: number;
  /** Default time limit of one request (120 s unless set). */
  timeoutMs?: number;
}

/** A wrong answer from the server: the workload that saw it does not count. */
export class WrongAnswer extends Error {
  override name = 'WrongAnswer';
}

/** A clean refusal under load: 429 or 503 with Retry-After. Only the load-held run accepts it. */
export class Shed extends Error {
  override name = 'Shed';
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

/** No complete answer within the request's time limit: a hang. */
export class TimedOut extends Error {
  override name = 'TimedOut';
}

/** Retry-After as seconds or an HTTP date, in milliseconds; undefined when malformed. */
function retryAfterMs(value: string): number | undefined {
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body, unless `onChunk` consumed it. */
  body: Buffer;
  /** Bytes received in the body. */
  length: number;
}

export interface RequestOptions {
  headers?: Record<string, string | number>;
  body?: Buffer;
  /** Receives the body chunk by chunk instead of collecting it. */
  onChunk?: (chunk: Buffer, offset: number) => void;
  timeoutMs?: number;
  agent?: http.Agent;
}

export function keepAliveAgent(maxSockets: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
}

export function request(target: Target, method: string, path: string, options: RequestOptions = {}): Promise<Reply> {
  const { body, onChunk } = options;
  const timeoutMs = options.timeoutMs ?? target.timeoutMs ?? 120_000;
  const headers: Record<string, string | number> = { ...options.headers };
  if (body !== undefined || method === 'PUT' || method === 'POST' || method === 'PATCH') headers['Content-Length'] = body?.length ?? 0;
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: target.base.hostname, port: target.base.port, method, path, headers, agent: options.agent ?? target.agent },
      (res) => {
        const chunks: Buffer[] = [];
        let length = 0;
        res.on('data', (chunk: Buffer) => {
          if (onChunk) {
            try {
              onChunk(chunk, length);
            } catch (error) {
              req.destroy(error as Error);
              return;
            }
          } else chunks.push(chunk);
          length += chunk.length;
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), length });
        });
        res.on('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
      },
    );
    const timer = setTimeout(() => req.destroy(new TimedOut(`${method} ${path} timed out after ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error instanceof TimedOut || error instanceof WrongAnswer ? error : new Error(`${method} ${path}: ${error.message}`));
    });
    req.end(body);
  });
}

export function describeReply(method: string, path: string, reply: Reply): string {
  const text = reply.body.subarray(0, 300).toString('utf8').replace(/\s+/g, ' ');
  return `${method} ${path} -> ${reply.status}${text ? ` ${text}` : ''}`;
}

export function expectStatus(method: string, path: string, reply: Reply, ...statuses: number[]): void {
  if (statuses.includes(reply.status)) return;
  if (reply.status === 429 || reply.status === 503) {
    const retryAfter = header(reply, 'Retry-After');
    const wait = retryAfter === undefined ? undefined : retryAfterMs(retryAfter);
    if (wait !== undefined) throw new Shed(`${method} ${path} -> ${reply.status}, Retry-After ${retryAfter}`, wait);
    throw new WrongAnswer(`${describeReply(method, path, reply)} without a valid Retry-After`);
  }
  throw new WrongAnswer(`expected ${statuses.join('/')}: ${describeReply(method, path, reply)}`);
}

function header(reply: Reply, name: string): string | undefined {
  const value = reply.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

function expectHeader(method: string, path: string, reply: Reply, name: string, expected: string): void {
  const actual = header(reply, name);
  if (actual !== expected) throw new WrongAnswer(`${method} ${path}: ${name} is ${actual ?? '(missing)'}, expected ${expected}`);
}

/** The path and query of a Location header, which may be absolute (Distribution) or relative. */
function locationPath(target: Target, method: string, path: string, reply: Reply): string {
  const location = header(reply, 'Location');
  if (!location) throw new WrongAnswer(`${method} ${path}: no Location header`);
  const url = new URL(location, target.base);
  return url.pathname + url.search;
}

function withDigest(path: string, digest: string): string {
  return `${path}${path.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

/** POST /v2/<name>/blobs/uploads/ (end-4a): the session's path. */
export async function startUpload(target: Target, name: string): Promise<string> {
  const path = `/v2/${name}/blobs/uploads/`;
  const reply = await request(target, 'POST', path);
  expectStatus('POST', path, reply, 202);
  return locationPath(target, 'POST', path, reply);
}

/** Monolithic push: POST, then PUT of the whole blob with its digest (end-4a, end-6). */
export async function pushBlob(target: Target, name: string, bytes: Buffer, digest: string): Promise<void> {
  const upload = await startUpload(target, name);
  const path = withDigest(upload, digest);
  const reply = await request(target, 'PUT', path, { body: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
  expectStatus('PUT', path, reply, 201);
  expectHeader('PUT', path, reply, 'Docker-Content-Digest', digest);
}

/** Chunked push: POST, one PATCH per chunk with Content-Range, then a PUT without body (end-5, end-6). */
export async function pushBlobChunked(target: Target, name: string, bytes: Buffer, digest: string, chunkSize: number): Promise<void> {
  let upload = await startUpload(target, name);
  for (let start = 0; start < bytes.length; start += chunkSize) {
    const chunk = bytes.subarray(start, Math.min(bytes.length, start + chunkSize));
    const end = start + chunk.length - 1;
    const reply = await request(target, 'PATCH', upload, {
      body: chunk,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${start}-${end}` },
    });
    expectStatus('PATCH', upload, reply, 202);
    expectHeader('PATCH', upload, reply, 'Range', `0-${end}`);
    upload = locationPath(target, 'PATCH', upload, reply);
  }
  const path = withDigest(upload, digest);
  const reply = await request(target, 'PUT', path);
  expectStatus('PUT', path, reply, 201);
  expectHeader('PUT', path, reply, 'Docker-Content-Digest', digest);
}

/** Cross-repository mount (end-11); a registry that declines answers 202 and the blob is pushed. */
export async function mountBlob(target: Target, name: string, from: string, digest: string, bytes: Buffer): Promise<void> {
  const path = `/v2/${name}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`;
  const reply = await request(target, 'POST', path);
  expectStatus('POST', path, reply, 201, 202);
  if (reply.status === 201) return expectHeader('POST', path, reply, 'Docker-Content-Digest', digest);
  const put = withDigest(locationPath(target, 'POST', path, reply), digest);
  const done = await request(target, 'PUT', put, { body: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
  expectStatus('PUT', put, done, 201);
}

/** HEAD of a blob: it exists with this size. */
export async function expectBlob(target: Target, name: string, digest: string, size: number): Promise<void> {
  const path = `/v2/${name}/blobs/${digest}`;
  const reply = await request(target, 'HEAD', path);
  expectStatus('HEAD', path, reply, 200);
  expectHeader('HEAD', path, reply, 'Content-Length', String(size));
}

export async function putManifest(
  target: Target,
  name: string,
  reference: string,
  bytes: Buffer,
  digest: string,
  mediaType = OCI_MANIFEST,
): Promise<void> {
  const path = `/v2/${name}/manifests/${reference}`;
  const reply = await request(target, 'PUT', path, { body: bytes, headers: { 'Content-Type': mediaType } });
  expectStatus('PUT', path, reply, 201);
  expectHeader('PUT', path, reply, 'Docker-Content-Digest', digest);
}

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

/** GET of a manifest: exactly these bytes, with their digest and media type. */
export async function expectManifest(
  target: Target,
  name: string,
  reference: string,
  bytes: Buffer,
  digest: string,
  mediaType = OCI_MANIFEST,
): Promise<void> {
  const path = `/v2/${name}/manifests/${reference}`;
  const reply = await request(target, 'GET', path, { headers: { Accept: MANIFEST_ACCEPT } });
  expectStatus('GET', path, reply, 200);
  expectHeader('GET', path, reply, 'Docker-Content-Digest', digest);
  expectHeader('GET', path, reply, 'Content-Type', mediaType);
  if (!reply.body.equals(bytes)) throw new WrongAnswer(`GET ${path}: manifest bytes differ from the ones pushed`);
}

/** HEAD of a manifest: the headers a GET would carry, and no body. */
export async function expectManifestHead(
  target: Target,
  name: string,
  reference: string,
  size: number,
  digest: string,
  mediaType = OCI_MANIFEST,
): Promise<void> {
  const path = `/v2/${name}/manifests/${reference}`;
  const reply = await request(target, 'HEAD', path, { headers: { Accept: MANIFEST_ACCEPT } });
  expectStatus('HEAD', path, reply, 200);
  expectHeader('HEAD', path, reply, 'Content-Length', String(size));
  expectHeader('HEAD', path, reply, 'Docker-Content-Digest', digest);
  expectHeader('HEAD', path, reply, 'Content-Type', mediaType);
  if (reply.length !== 0) throw new WrongAnswer(`HEAD ${path}: ${reply.length} body bytes`);
}

/**
 * GET of a blob, compared byte for byte with what was pushed as it arrives (a memcmp per chunk,
 * cheaper than hashing on the client, and stronger). Returns the byte count.
 */
export async function pullBlob(target: Target, name: string, digest: string, expected: Buffer): Promise<number> {
  const path = `/v2/${name}/blobs/${digest}`;
  let mismatchAt = -1;
  const reply = await request(target, 'GET', path, {
    onChunk: (chunk, offset) => {
      if (mismatchAt >= 0) return;
      if (offset + chunk.length > expected.length || chunk.compare(expected, offset, offset + chunk.length) !== 0) mismatchAt = offset;
    },
  });
  expectStatus('GET', path, reply, 200);
  if (mismatchAt >= 0) throw new WrongAnswer(`GET ${path}: body differs from the pushed blob at or after byte ${mismatchAt}`);
  if (reply.length !== expected.length) throw new WrongAnswer(`GET ${path}: ${reply.length} bytes, expected ${expected.length}`);
  return reply.length;
}

export async function getJson(target: Target, path: string): Promise<{ reply: Reply; value: unknown }> {
  const reply = await request(target, 'GET', path);
  expectStatus('GET', path, reply, 200);
  try {
    return { reply, value: JSON.parse(reply.body.toString('utf8')) };
  } catch {
    throw new WrongAnswer(`GET ${path}: body is not JSON`);
  }
}

/** Pushes a whole image: layers and config (skipping none), then the manifest by tag. */
export async function pushImage(target: Target, name: string, tag: string, image: Image): Promise<void> {
  for (let i = 0; i < image.layers.length; i++) await pushBlob(target, name, image.layers[i], image.layerDigests[i]);
  await pushBlob(target, name, image.config, image.configDigest);
  await putManifest(target, name, tag, image.manifest, image.manifestDigest);
}
