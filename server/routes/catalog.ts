// GET /v2/_catalog: every repository, sorted lexically, with n/last pagination. With auth on,
// only the repositories the caller may pull are listed (filtered before paginating).
import type { Context } from 'koa';
import { paginate, parsePageQuery } from '../pagination.js';
import { sendJson } from '../respond.js';
import type { RouteMatch, Services } from '../routes.js';

export async function list(ctx: Context, route: RouteMatch, { storage }: Services): Promise<void> {
  const page = parsePageQuery(ctx.query);
  const all = await storage.catalog.repositories();
  const visible = route.caller ? all.filter((name) => route.caller!.canPull(name)) : all;
  const { entries, link } = paginate(visible, page, '/v2/_catalog');
  sendJson(ctx, 200, { repositories: entries }, { Link: link });
}
