// GET /v2/_catalog: every repository, sorted lexically, with n/last pagination. With auth on,
// only the repositories the caller may pull are listed (filtered before paginating). Aliases
// (stowage.aliases) are listed as repositories.
import type { Context } from 'koa';
import { nextLink, paginate, parsePageQuery, visiblePage } from '../../pagination.js';
import { sendJson } from '../../respond.js';
import type { RouteMatch, Services } from '../route-types.js';

export async function list(ctx: Context, route: RouteMatch, { registry, aliases }: Services): Promise<void> {
  const page = parsePageQuery(ctx.query);
  const canPull = route.caller ? (name: string) => route.caller!.canPull(name) : undefined;
  if (!aliases || aliases.empty) {
    // Read page by page from the registry (the metadata database): the cost follows the page.
    const { entries, more } = await visiblePage((p) => registry.repositoriesPage(p), page, canPull);
    sendJson(ctx, 200, { repositories: entries }, { Link: nextLink(entries, page, more, '/v2/_catalog') });
    return;
  }
  // Short names are listed beside every repository they lead to: that needs the whole list.
  const stored = await registry.repositories();
  // Short names are repositories to their users: list them beside their targets.
  const all = aliases.withAliases(stored);
  const visible = route.caller ? all.filter((name) => route.caller!.canPull(name)) : all;
  const { entries, link } = paginate(visible, page, '/v2/_catalog');
  sendJson(ctx, 200, { repositories: entries }, { Link: link });
}
