// Blobs by digest (end-2 GET/HEAD, end-10 DELETE), with single byte ranges (206/416).
import type { Context } from 'koa';
import { RegistryError } from '../../../errors/registry-error.js';
import { assertDigest } from '../../../storage/grammar.js';
import type { Readable } from 'node:stream';
import type { ByteRange } from '../../../storage/repository.js';
import { sendCopy, sendEmpty, sendStream } from '../../respond.js';
import { repositoryOf, type RouteMatch, type Services } from '../route-types.js';

/** Parses a single "bytes=a-b", "bytes=a-" or "bytes=-n" range. Multiple ranges get the whole blob. */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return header.includes(',') ? undefined : 'unsatisfiable';
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

export async function get(ctx: Context, route: RouteMatch, { options }: Services): Promise<void> {
  const digest = route.param;
  assertDigest(digest);
  const blobs = repositoryOf(route).blobs;
  if (ctx.method === 'HEAD') {
    const { size, stored } = await blobs.stat(digest);
    ctx.status = 200;
    for (const [k, v] of Object.entries(stored ? storedHeaders(digest) : arrivingHeaders(digest))) ctx.set(k, v);
    ctx.set('Content-Type', 'application/octet-stream');
    if (size !== undefined) ctx.set('Content-Length', String(size));
    return;
  }
  const blob = await blobs.open(digest);
  if (!blob.stored) return sendArriving(ctx, digest, blob);
  const { size } = blob;
  const headers = storedHeaders(digest);
  const range = parseRange(ctx.get('Range') || undefined, size);
  if (range === 'unsatisfiable') {
    throw new RegistryError('RANGE_INVALID', 'requested range not satisfiable', { headers: { 'Content-Range': `bytes */${size}` } });
  }
  // Distribution's redirect middleware: the bytes flow from storage; the client sends any Range there.
  const location = options.redirect ? await blobs.redirectURL(digest) : undefined;
  if (location) return sendEmpty(ctx, 307, { Location: location, 'Docker-Content-Digest': digest });
  if (range) {
    const length = range.end - range.start + 1;
    await sendCopy(ctx, 206, 'application/octet-stream', length, (res) => blobs.copyTo(digest, res, range), {
      ...headers,
      'Content-Range': `bytes ${range.start}-${range.end}/${size}`,
    });
    return;
  }
  await sendCopy(ctx, 200, 'application/octet-stream', size, (res) => blobs.copyTo(digest, res), headers);
}

function storedHeaders(digest: string): Record<string, string> {
  return { 'Docker-Content-Digest': digest, 'Accept-Ranges': 'bytes', ETag: `"${digest}"`, 'Cache-Control': 'max-age=31536000' };
}

/** Bytes still arriving (a pull-through fill) exist only as they arrive: no ranges, no long caching. */
function arrivingHeaders(digest: string): Record<string, string> {
  return { 'Docker-Content-Digest': digest, ETag: `"${digest}"` };
}

/** The whole of a blob still arriving (Range is ignored). */
function sendArriving(ctx: Context, digest: string, blob: { size?: number; stream: Readable }): void {
  const headers = arrivingHeaders(digest);
  if (blob.size !== undefined) return sendStream(ctx, 200, 'application/octet-stream', blob.size, blob.stream, headers);
  // No length known: chunked, so a cut still shows as a missing final chunk.
  ctx.status = 200;
  for (const [k, v] of Object.entries(headers)) ctx.set(k, v);
  ctx.set('Content-Type', 'application/octet-stream');
  ctx.body = blob.stream;
}

export async function remove(ctx: Context, route: RouteMatch, { options }: Services): Promise<void> {
  if (!options.deleteEnabled) throw new RegistryError('UNSUPPORTED', 'deletes are disabled (storage.delete.enabled)');
  const digest = route.param;
  assertDigest(digest);
  await repositoryOf(route).blobs.delete(digest);
  sendEmpty(ctx, 202, { 'Docker-Content-Digest': digest });
}
