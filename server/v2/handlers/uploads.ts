// Blob uploads (end-4a/4b monolithic, end-5 chunked PATCH, end-6 PUT, end-11 mount, end-13 status):
// each handler parses the request, calls the upload store once and sets the spec's headers.
import type { Context } from 'koa';
import { RegistryError } from '../../../errors/registry-error.js';
import { assertDigest, assertDigestAlgorithm, isValidName } from '../../../storage/grammar.js';
import { assertUploadId } from '../../../storage/grammar.js';
import { hasBody } from '../../request-body.js';
import { rangeHeader, sendEmpty } from '../../respond.js';
import { repositoryOf, type RouteMatch } from '../route-types.js';

function queryString(ctx: Context, key: string): string | undefined {
  const value = ctx.query[key];
  return Array.isArray(value) ? value[0] : value;
}

function uploadLocation(name: string, id: string): string {
  return `/v2/${name}/blobs/uploads/${id}`;
}

function blobCreated(ctx: Context, name: string, digest: string): void {
  sendEmpty(ctx, 201, { Location: `/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest });
}

function uploadAccepted(ctx: Context, status: number, name: string, id: string, size: number): void {
  sendEmpty(ctx, status, { Location: uploadLocation(name, id), Range: rangeHeader(size), 'Docker-Upload-UUID': id });
}

/** The query's digest, which must be present and well formed. */
function requiredDigest(ctx: Context): string {
  const digest = queryString(ctx, 'digest');
  if (!digest) throw new RegistryError('DIGEST_INVALID', 'digest query parameter is required');
  assertDigest(digest);
  return digest;
}

/**
 * The start offset of a chunk from Content-Range ("<start>-<end>", or "bytes <start>-<end>/<size>"),
 * checked against Content-Length when both are given.
 */
function chunkStart(ctx: Context): number | undefined {
  const header = ctx.get('Content-Range');
  if (!header) return undefined;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!m) throw new RegistryError('RANGE_INVALID', 'malformed Content-Range', { detail: { contentRange: header.slice(0, 100) } });
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) throw new RegistryError('RANGE_INVALID', 'Content-Range ends before it starts');
  const length = ctx.get('Content-Length');
  if (length !== '' && Number(length) !== end - start + 1) {
    throw new RegistryError('BLOB_UPLOAD_INVALID', 'Content-Length does not match Content-Range', { status: 400 });
  }
  return start;
}

export async function start(ctx: Context, route: RouteMatch): Promise<void> {
  const mount = queryString(ctx, 'mount');
  const from = queryString(ctx, 'from');
  if (mount && from) {
    assertDigest(mount);
    // An unknown or invalid source, or one the caller may not pull, falls back to an ordinary upload (end-11).
    if (isValidName(from) && (route.caller?.allows(from, 'pull') ?? true)) {
      const mounted = await repositoryOf(route).blobs.mount(from, mount);
      if (mounted) return blobCreated(ctx, route.name, mount);
    }
  }
  const digest = queryString(ctx, 'digest');
  if (digest !== undefined) {
    assertDigest(digest);
    await repositoryOf(route).uploads.putMonolithic(digest, ctx.req);
    return blobCreated(ctx, route.name, digest);
  }
  const algorithm = queryString(ctx, 'digest-algorithm');
  const upload = await repositoryOf(route).uploads.start({ algorithm: algorithm === undefined ? undefined : assertDigestAlgorithm(algorithm) });
  uploadAccepted(ctx, 202, route.name, upload.id, 0);
}

export async function status(ctx: Context, route: RouteMatch): Promise<void> {
  const id = assertUploadId(route.param);
  const upload = await repositoryOf(route).uploads.status(id);
  uploadAccepted(ctx, 204, route.name, id, upload.size);
}

export async function patch(ctx: Context, route: RouteMatch): Promise<void> {
  const id = assertUploadId(route.param);
  const upload = await repositoryOf(route).uploads.append(id, ctx.req, { start: chunkStart(ctx) });
  uploadAccepted(ctx, 202, route.name, id, upload.size);
}

export async function finish(ctx: Context, route: RouteMatch): Promise<void> {
  const id = assertUploadId(route.param);
  const digest = requiredDigest(ctx);
  // The Content-Range start is checked in storage, under the upload's lock, as a PATCH's is.
  const blob = await repositoryOf(route).uploads.finish(id, digest, hasBody(ctx.req) ? ctx.req : undefined, { start: chunkStart(ctx) });
  blobCreated(ctx, route.name, blob.digest);
}

export async function cancel(ctx: Context, route: RouteMatch): Promise<void> {
  const id = assertUploadId(route.param);
  await repositoryOf(route).uploads.cancel(id);
  sendEmpty(ctx, 204);
}
