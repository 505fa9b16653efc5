// GET /v2/<name>/tags/list (end-8a/8b), sorted lexically with n/last pagination.
import type { Context } from 'koa';
import { RegistryError } from '../../errors/registry-error.js';
import { paginate, parsePageQuery, type PageQuery } from '../pagination.js';
import { sendJson } from '../respond.js';
import type { RouteMatch, Services } from '../route-types.js';

export async function list(ctx: Context, route: RouteMatch, { storage }: Services): Promise<void> {
  const page = parsePageQuery(ctx.query);
  const tags = await storage.manifests.listTags(route.name);
  if (tags.length === 0 && !(await storage.catalog.exists(route.name))) {
    throw new RegistryError('NAME_UNKNOWN', undefined, { detail: { name: route.name } });
  }
  sendTagsPage(ctx, route.name, tags, page);
}

/** The tags list answer: one page of the sorted tags, with a Link to the next. */
export function sendTagsPage(ctx: Context, name: string, tags: string[], page: PageQuery): void {
  const { entries, link } = paginate(tags, page, `/v2/${name}/tags/list`);
  sendJson(ctx, 200, { name, tags: entries }, { Link: link });
}
