// GET /v2/<name>/tags/list (end-8a/8b), sorted lexically with n/last pagination.
import type { Context } from 'koa';
import { RegistryError } from '../../storage/errors.js';
import { paginate, parsePageQuery } from '../pagination.js';
import { sendJson } from '../respond.js';
import type { RouteMatch, Services } from '../routes.js';

export async function list(ctx: Context, route: RouteMatch, { storage }: Services): Promise<void> {
  const page = parsePageQuery(ctx.query);
  const tags = await storage.manifests.listTags(route.name);
  if (tags.length === 0 && !(await storage.catalog.exists(route.name))) {
    throw new RegistryError('NAME_UNKNOWN', undefined, { detail: { name: route.name } });
  }
  const { entries, link } = paginate(tags, page, `/v2/${route.name}/tags/list`);
  sendJson(ctx, 200, { name: route.name, tags: entries }, { Link: link });
}
