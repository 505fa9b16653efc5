// GET /v2/_catalog: every repository, sorted lexically, with n/last pagination.
import type { Context } from 'koa';
import { paginate, parsePageQuery } from '../pagination.js';
import { sendJson } from '../respond.js';
import type { RouteMatch, Services } from '../routes.js';

export async function list(ctx: Context, _route: RouteMatch, { storage }: Services): Promise<void> {
  const page = parsePageQuery(ctx.query);
  const { entries, link } = paginate(await storage.catalog.repositories(), page, '/v2/_catalog');
  sendJson(ctx, 200, { repositories: entries }, { Link: link });
}
