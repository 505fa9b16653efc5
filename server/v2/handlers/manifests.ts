// Manifests by tag or digest (end-3 GET/HEAD, end-7 PUT, end-9 DELETE). The bytes are served
// exactly as pushed with the media type they were pushed as; Accept does not convert them.
import type { Context } from 'koa';
import { RegistryError } from '../../../errors/registry-error.js';
import { MAX_MANIFEST_BYTES } from '../../../storage/manifest-format.js';
import { assertTag, isDigestReference } from '../../../storage/grammar.js';
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

/** Tags a push may set with ?tag= (end-7b; the spec asks for at least 10). */
export const MAX_TAG_PARAMS = 100;

/** The ?tag= values, checked before the body is read: one invalid tag refuses the push. */
function tagParams(ctx: Context, reference: string): string[] {
  const raw = ctx.query.tag;
  if (raw === undefined) return [];
  const tags = [...new Set(Array.isArray(raw) ? raw : [raw])];
  if (tags.length > MAX_TAG_PARAMS) {
    throw new RegistryError('TAG_INVALID', `at most ${MAX_TAG_PARAMS} tag parameters in one push`, { status: 414, detail: { tags: tags.length } });
  }
  for (const tag of tags) assertTag(tag);
  return tags.filter((tag) => tag !== reference);
}

export async function put(ctx: Context, route: RouteMatch): Promise<void> {
  const tags = tagParams(ctx, route.param);
  const body = await readLimitedBody(ctx.req, MAX_MANIFEST_BYTES);
  const result = await repositoryOf(route).manifests.put(route.param, body, ctx.get('Content-Type') || undefined, { tags });
  // Answered when ?tag= was given: every tag the push set, the reference's included.
  const set = ctx.query.tag === undefined ? [] : isDigestReference(route.param) ? tags : [route.param, ...tags];
  sendEmpty(ctx, 201, {
    Location: `/v2/${route.name}/manifests/${result.digest}`,
    'Docker-Content-Digest': result.digest,
    'OCI-Subject': result.subject,
    // Every tag the push set, in one field (tags hold no commas): RFC 9110 reads it as a list.
    'OCI-Tag': set.length > 0 ? set.join(', ') : undefined,
  });
}

export async function remove(ctx: Context, route: RouteMatch, { options }: Services): Promise<void> {
  if (!options.deleteEnabled) throw new RegistryError('UNSUPPORTED', 'deletes are disabled (storage.delete.enabled)');
  await repositoryOf(route).manifests.delete(route.param);
  sendEmpty(ctx, 202);
}
