// GET /v2/<name>/tags/list (end-8a/8b), sorted lexically with n/last pagination.
import type { Context } from 'koa';
import { paginate, parsePageQuery } from '../../pagination.js';
import { sendJson } from '../../respond.js';
import { repositoryOf, type RouteMatch } from '../route-types.js';

export async function list(ctx: Context, route: RouteMatch): Promise<void> {
  const page = parsePageQuery(ctx.query);
  const tags = await repositoryOf(route).tags.list();
  const { entries, link } = paginate(tags, page, `/v2/${route.name}/tags/list`);
  sendJson(ctx, 200, { name: route.name, tags: entries }, { Link: link });
}
