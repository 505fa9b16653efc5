// What a registry client does in the tests: push blobs, manifests and whole images through the
// HTTP API, read bytes back without supertest's JSON parsing, and send requests supertest cannot
// (a path exactly as written, a chunked body, a body abandoned half way).
import http from 'node:http';
import { expect } from 'vitest';
import type { Response, Test } from 'supertest';
import type { TestRegistry } from './test-registry.js';
import { blobOf, ociManifest, dockerManifest, randomBlob, type Blob, type Manifest } from './content.js';

/** Makes supertest hand back the raw body as a Buffer in res.body, whatever the Content-Type. */
export function asBytes(test: Test): Test {
  return test.buffer(true).parse((res, callback) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('end', () => callback(null, Buffer.concat(chunks)));
  });
}

/**
 * Sends bytes as the body unchanged. superagent would otherwise JSON-serialise a Buffer when the
 * Content-Type ends in +json, which is every manifest media type.
 */
export function sendBytes(test: Test, bytes: Buffer): Test {
  return test.serialize((body: unknown) => body as string).send(bytes);
}

/** PUT of manifest bytes with a Content-Type (end-7), as a client sends it. */
export function putManifest(reg: TestRegistry, name: string, reference: string, bytes: Buffer, contentType: string): Test {
  return sendBytes(reg.request.put(`/v2/${name}/manifests/${reference}`).set('Content-Type', contentType), bytes);
}

/** Pushes a blob in one POST (end-4b) and checks it was created. */
export async function pushBlob(reg: TestRegistry, name: string, blob: Blob): Promise<void> {
  const res = await reg.request
    .post(`/v2/${name}/blobs/uploads/?digest=${blob.digest}`)
    .set('Content-Type', 'application/octet-stream')
    .send(blob.bytes);
  expect(res.status, `push of ${blob.digest} to ${name}: ${res.text}`).toBe(201);
}

/** Pushes a manifest under a tag or digest (end-7) and checks it was created. */
export async function pushManifest(reg: TestRegistry, name: string, reference: string, manifest: Manifest): Promise<Response> {
  const res = await putManifest(reg, name, reference, manifest.bytes, manifest.mediaType);
  expect(res.status, `push of manifest ${reference} to ${name}: ${res.text}`).toBe(201);
  return res;
}

export interface PushedImage {
  config: Blob;
  layers: Blob[];
  manifest: Manifest;
}

/** Pushes a one-layer image (blobs, then the manifest under tag). seed makes distinct images. */
export async function pushImage(
  reg: TestRegistry,
  name: string,
  tag: string,
  options: { seed?: number; format?: 'oci' | 'docker' } = {},
): Promise<PushedImage> {
  const seed = options.seed ?? 1;
  const config = blobOf(JSON.stringify({ architecture: 'amd64', os: 'linux', seed }));
  const layers = [randomBlob(2048 + seed, seed)];
  const manifest = options.format === 'docker' ? dockerManifest(config, layers) : ociManifest(config, layers);
  for (const blob of [config, ...layers]) await pushBlob(reg, name, blob);
  await pushManifest(reg, name, tag, manifest);
  return { config, layers, manifest };
}

export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * One request with the path sent byte for byte (no URL normalisation of "..") and the body
 * written as the given chunks without Content-Length (chunked), unless headers set one.
 */
export function rawRequest(
  port: number,
  method: string,
  path: string,
  /** localAddress: another loopback address (127.0.0.2 ...) to act as another client. */
  options: { headers?: Record<string, string>; chunks?: Buffer[]; localAddress?: string } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: options.headers, agent: false, localAddress: options.localAddress }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    for (const chunk of options.chunks ?? []) req.write(chunk);
    req.end();
  });
}

/**
 * Starts a request that declares length bytes, sends only the first part of body and then
 * drops the connection, as a client killed mid-upload does. Resolves once the socket is gone.
 */
export function abandonedUpload(port: number, method: string, path: string, body: Buffer, sent: number): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      method,
      path,
      agent: false,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length) },
    });
    req.on('error', () => {});
    req.on('close', () => resolve());
    req.write(body.subarray(0, sent), () => {
      // Give the server a moment to start consuming before the connection drops.
      setTimeout(() => req.destroy(), 50);
    });
  });
}

/** Polls fn until it returns true or the deadline passes; the test then asserts the outcome. */
export async function eventually(fn: () => Promise<boolean>, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The path (and query) of a Location header, which the spec lets be absolute or relative. */
export function locationPath(location: string | undefined): string {
  expect(location, 'Location header').toBeTruthy();
  const url = new URL(location as string, 'http://registry.invalid');
  return url.pathname + url.search;
}

/** Appends a query parameter to a Location path that may already carry a query. */
export function withQuery(path: string, key: string, value: string): string {
  return `${path}${path.includes('?') ? '&' : '?'}${key}=${encodeURIComponent(value)}`;
}

/** Starts an upload session (end-4a POST) and returns its path from Location. */
export async function startUpload(reg: TestRegistry, name: string): Promise<string> {
  const res = await reg.request.post(`/v2/${name}/blobs/uploads/`);
  expect(res.status, res.text).toBe(202);
  return locationPath(res.headers.location);
}
