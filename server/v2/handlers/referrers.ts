// GET /v2/<name>/referrers/<digest> (end-12a/12b): an OCI index of the manifests whose subject is
// the digest, filtered by artifactType when asked (and then saying so in OCI-Filters-Applied).
import type { Context } from 'koa';
import { assertDigest } from '../../../storage/grammar.js';
import { MEDIA_TYPES } from '../../../storage/manifest-format.js';
import { sendJson } from '../../respond.js';
import { repositoryOf, type RouteMatch } from '../route-types.js';

export async function list(ctx: Context, route: RouteMatch): Promise<void> {
  assertDigest(route.param);
  const raw = ctx.query.artifactType;
  const artifactType = Array.isArray(raw) ? raw[0] : raw;
  const manifests = await repositoryOf(route).referrers.list(route.param, artifactType || undefined);
  sendJson(
    ctx,
    200,
    { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests },
    { 'OCI-Filters-Applied': artifactType ? 'artifactType' : undefined },
    MEDIA_TYPES.ociIndex,
  );
}
