// What a registry client does in the tests: send manifests, read bytes back without supertest's
// JSON parsing, and send requests supertest cannot (a path exactly as written, a chunked body, a
// body abandoned half way). Pushing blobs and whole images is helpers/images.ts.
import http from 'node:http';
import { expect } from 'vitest';
import type { Test } from 'supertest';
import type { TestRegistry } from './test-registry.js';

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

/** GET of a URL with fetch, the body read whole (test sizes are small). */
export async function pull(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(url, init);
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body };
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
    const req = http.request(
      { host: '127.0.0.1', port, method, path, headers: options.headers, agent: false, localAddress: options.localAddress },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
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
