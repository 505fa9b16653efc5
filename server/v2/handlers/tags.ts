// GET /v2/<name>/tags/list (end-8a/8b), sorted lexically with n/last pagination.
import type { Context } from 'koa';
import { nextLink, parsePageQuery } from '../../pagination.js';
import { sendJson } from '../../respond.js';
import { repositoryOf, type RouteMatch } from '../route-types.js';

export async function list(ctx: Context, route: RouteMatch): Promise<void> {
  const page = parsePageQuery(ctx.query);
  // One page from the repository (the metadata database answers at the page's cost).
  const { items, more } = await repositoryOf(route).tags.page(page);
  // The name asked for, as the spec's example shows, even when an alias or a mirror hint routed it.
  const name = route.asked ?? route.name;
  sendJson(ctx, 200, { name, tags: items }, { Link: nextLink(items, page, more, `/v2/${name}/tags/list`) });
}
