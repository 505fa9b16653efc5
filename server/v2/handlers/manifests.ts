// Manifests by tag or digest (end-3 GET/HEAD, end-7 PUT, end-9 DELETE). The bytes are served
// exactly as pushed with the media type they were pushed as; Accept does not convert them.
import type { Context } from 'koa';
import { RegistryError } from '../../../errors/registry-error.js';
import { MAX_MANIFEST_BYTES } from '../../../storage/manifest-format.js';
import { readLimitedBody } from '../../request-body.js';
import { sendBytes, sendEmpty } from '../../respond.js';
import { repositoryOf, type RouteMatch, type Services } from '../route-types.js';

export async function get(ctx: Context, route: RouteMatch): Promise<void> {
  const manifests = repositoryOf(route).manifests;
  // A HEAD is not a pull: it sends no webhook event (notifications/listen.ts).
  const manifest = ctx.method === 'HEAD' ? await manifests.stat(route.param) : await manifests.get(route.param);
  sendBytes(ctx, 200, manifest.mediaType, manifest.bytes, {
    'Docker-Content-Digest': manifest.digest,
    ETag: `"${manifest.digest}"`,
  });
}

export async function put(ctx: Context, route: RouteMatch): Promise<void> {
  const body = await readLimitedBody(ctx.req, MAX_MANIFEST_BYTES);
  const result = await repositoryOf(route).manifests.put(route.param, body, ctx.get('Content-Type') || undefined);
  sendEmpty(ctx, 201, {
    Location: `/v2/${route.name}/manifests/${result.digest}`,
    'Docker-Content-Digest': result.digest,
    'OCI-Subject': result.subject,
  });
}

export async function remove(ctx: Context, route: RouteMatch, { options }: Services): Promise<void> {
  if (!options.deleteEnabled) throw new RegistryError('UNSUPPORTED', 'deletes are disabled (storage.delete.enabled)');
  await repositoryOf(route).manifests.delete(route.param);
  sendEmpty(ctx, 202);
}
