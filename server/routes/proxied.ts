// Route handlers for proxied repositories (the route table in server/routes.ts picks them when
// the request's name routes to an upstream). Cache hits go to the ordinary handlers under the
// stowage-side name; misses stream from the proxy. The tags list joins upstream's with the
// cache's; referrers answer what is cached.
import type { Context } from 'koa';
import { RegistryError } from '../../errors/registry-error.js';
import { assertDigest } from '../../storage/grammar.js';
import * as localBlobs from './blobs.js';
import { parsePageQuery } from '../pagination.js';
import { sendBytes, sendStream } from '../respond.js';
import { sendTagsPage } from './tags.js';
import type { RouteMatch, Services } from '../route-types.js';
import type { PullThroughProxy } from '../../proxy/pull-through.js';
import type { ProxyRoute } from '../../proxy/routing.js';

function proxied(route: RouteMatch, services: Services): { proxy: PullThroughProxy; target: ProxyRoute } {
  if (!services.proxy || !route.proxy) throw new RegistryError('UNKNOWN', 'proxy handler without a proxy route');
  return { proxy: services.proxy, target: route.proxy };
}

export async function getManifest(ctx: Context, route: RouteMatch, services: Services): Promise<void> {
  const { proxy, target } = proxied(route, services);
  const manifest = await proxy.getManifest(target, route.param);
  sendBytes(ctx, 200, manifest.mediaType, manifest.bytes, {
    'Docker-Content-Digest': manifest.digest,
    ETag: `"${manifest.digest}"`,
  });
}

export async function getBlob(ctx: Context, route: RouteMatch, services: Services): Promise<void> {
  const { proxy, target } = proxied(route, services);
  const digest = route.param;
  assertDigest(digest);
  const headers = { 'Docker-Content-Digest': digest, ETag: `"${digest}"` };
  if (ctx.method === 'HEAD') {
    const lookup = await proxy.statBlob(target, digest);
    if (lookup.hit) return localBlobs.get(ctx, route, services);
    ctx.status = 200;
    for (const [k, v] of Object.entries(headers)) ctx.set(k, v);
    ctx.set('Content-Type', 'application/octet-stream');
    if (lookup.size !== undefined) ctx.set('Content-Length', String(lookup.size));
    return;
  }
  const filled = await proxy.openBlob(target, digest);
  if (!filled) return localBlobs.get(ctx, route, services);
  // A miss answers the whole blob (Range is ignored): the bytes exist only as the fill writes them.
  if (filled.size !== undefined) {
    sendStream(ctx, 200, 'application/octet-stream', filled.size, filled.stream, headers);
    return;
  }
  // Upstream sent no length: chunked, so a cut still shows as a missing final chunk.
  ctx.status = 200;
  for (const [k, v] of Object.entries(headers)) ctx.set(k, v);
  ctx.set('Content-Type', 'application/octet-stream');
  ctx.body = filled.stream;
}

export async function listTags(ctx: Context, route: RouteMatch, services: Services): Promise<void> {
  const { proxy, target } = proxied(route, services);
  const page = parsePageQuery(ctx.query);
  const tags = await proxy.listTags(target);
  if (!tags) throw new RegistryError('NAME_UNKNOWN', undefined, { detail: { name: route.name } });
  sendTagsPage(ctx, route.name, tags, page);
}

/** Pushes and deletes to a proxied name: the cache mirrors upstream, it takes no writes. */
export function refuseWrite(ctx: Context, route: RouteMatch): never {
  throw new RegistryError('UNSUPPORTED', `${route.name} is a pull-through cache of ${route.proxy?.upstream.client.host ?? 'an upstream'}: ${ctx.method} is refused`, {
    detail: { name: route.name },
  });
}
