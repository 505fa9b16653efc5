// The JSON API over the metadata database (/api/v1/), for the web UI and `stowage ls`, `du` and
// `tags`: repositories with size, counts, last push and pull, sorted and filtered; a repository
// with what the caller may do there; a repository's tags with what each points at and its pulls;
// one image's details. Every list is a page with the next page's URL in the body and a Link
// header, and shows only what the caller may pull, with the credentials /v2 takes (auth/). Names
// are matched as sent, as in /v2: an encoded "/" is NAME_INVALID. The registry-wide routes are
// api-registry.ts, raw bytes api-content.ts, upstreams api-proxies.ts; all are registered here on
// the router of server/router.ts. The queries are storage/metadata/metadata-queries.ts.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { RegistryError } from '../../errors/registry-error.js';
import type { Grant } from '../../auth/access-controller.js';
import { CATALOG_ACCESS, repositoryAccess, type Action } from '../../auth/scope.js';
import { imageDetails } from '../../storage/image-details.js';
import {
  REPOSITORY_SORT_KEYS,
  sortKeyOf,
  type MetadataQueries,
  type RepositoryPageRequest,
  type RepositorySortKey,
  type RepositorySummary,
} from '../../storage/metadata/metadata-queries.js';
import { assertName } from '../../storage/grammar.js';
import { visibleItems } from '../pagination.js';
import { decodePathParam } from '../path-param.js';
import { sendJson } from '../respond.js';
import { routeOptions, type RouteOptions } from '../route-options.js';
import { imageJson, repositoryJson, tagJson } from './api-json.js';
import {
  API_PREFIX,
  apiPage,
  authorizer,
  badParameter,
  choice,
  decodeCursor,
  encodeCursor,
  linkTo,
  nameAfter,
  nextUrl,
  queriesOf,
  single,
  type ApiDependencies,
} from './api-request.js';
import { registerRegistryRoutes, REGISTRY_ROUTES } from './api-registry.js';
import { CONTENT_ROUTES, registerContentRoutes } from './api-content.js';
import { PROXY_ROUTES, registerProxyRoutes } from './api-proxies.js';
import { QUOTA_ROUTES, registerQuotaRoutes } from './api-quotas.js';

export { API_PREFIX, DEFAULT_API_PAGE, MAX_API_PAGE, type ApiDependencies } from './api-request.js';

/** The API's routes, for OPS_ROUTES (openapi.yaml's test). */
export const API_ROUTES = [
  { method: 'GET', path: `${API_PREFIX}/repositories` },
  { method: 'GET', path: `${API_PREFIX}/repositories/{name}` },
  { method: 'GET', path: `${API_PREFIX}/tags/{name}` },
  { method: 'GET', path: `${API_PREFIX}/images/{name}/{reference}` },
  ...REGISTRY_ROUTES,
  ...CONTENT_ROUTES,
  ...PROXY_ROUTES,
  ...QUOTA_ROUTES,
] as const;

const ORDERS = ['asc', 'desc'] as const;

export function registerApiRoutes(router: Router, deps: ApiDependencies): void {
  const { storage } = deps;
  const authorize = authorizer(deps.access);
  const options = routeOptions(deps.config);

  router.get(`${API_PREFIX}/repositories`, async (ctx: Context) => {
    const queries = queriesOf(storage);
    // As _catalog: the catalog scope for a token, then only what the caller may pull.
    const caller = await authorize(ctx, [CATALOG_ACCESS]);
    const { entries, next } = await repositoriesPage(ctx, queries, caller);
    sendJson(ctx, 200, { repositories: entries.map(repositoryJson), next: next ?? null }, linkTo(next));
  });

  router.get(`${API_PREFIX}/repositories/*name`, async (ctx: Context) => {
    const queries = queriesOf(storage);
    const name = nameAfter(ctx, `${API_PREFIX}/repositories/`);
    const caller = await authorize(ctx, [repositoryAccess(name, ['pull'])]);
    const summary = await queries.repository(name);
    if (!summary) throw new RegistryError('NAME_UNKNOWN', undefined, { detail: { name } });
    const proxied = deps.proxy?.route(name) !== undefined;
    sendJson(ctx, 200, { ...repositoryJson(summary), actions: actionsOf(name, caller, options, proxied) });
  });

  router.get(`${API_PREFIX}/tags/*name`, async (ctx: Context) => {
    const queries = queriesOf(storage);
    const name = nameAfter(ctx, `${API_PREFIX}/tags/`);
    await authorize(ctx, [repositoryAccess(name, ['pull'])]);
    const page = apiPage(ctx);
    const q = single(ctx.query.q);
    const tags = await queries.tags(name, page, { contains: q });
    if (!tags) throw new RegistryError('NAME_UNKNOWN', undefined, { detail: { name } });
    const next = nextUrl(`${API_PREFIX}/tags/${name}`, tags.more, { q, n: String(page.n), last: tags.items.at(-1)?.tag });
    sendJson(
      ctx,
      200,
      { name, tags: tags.items.map((t) => tagJson(t, storage.manifests.isImmutable(name, t.tag))), next: next ?? null },
      linkTo(next),
    );
  });

  router.get(`${API_PREFIX}/images/*name/:reference`, async (ctx: Context) => {
    queriesOf(storage);
    const rest = ctx.path.slice(`${API_PREFIX}/images/`.length);
    const at = rest.lastIndexOf('/');
    const name = assertName(rest.slice(0, at));
    await authorize(ctx, [repositoryAccess(name, ['pull'])]);
    sendJson(ctx, 200, imageJson(await imageDetails(storage, name, decodePathParam(rest.slice(at + 1)))));
  });

  registerRegistryRoutes(router, deps);
  registerContentRoutes(router, deps);
  registerProxyRoutes(router, deps);
  registerQuotaRoutes(router, deps);
}

/**
 * A page of /repositories: filtered by prefix, namespace and q, in the order sort and order ask
 * for. By name the next page starts after last=; by another key after an opaque cursor= holding
 * the last entry's (key, name).
 */
async function repositoriesPage(
  ctx: Context,
  queries: MetadataQueries,
  caller: Grant | undefined,
): Promise<{ entries: RepositorySummary[]; next?: string }> {
  const sort = choice<RepositorySortKey>(ctx, 'sort', REPOSITORY_SORT_KEYS);
  const order = choice(ctx, 'order', ORDERS);
  const namespace = single(ctx.query.namespace);
  if (namespace !== undefined && (namespace.includes('/') || !isName(namespace))) {
    throw new RegistryError('NAME_INVALID', 'namespace must be the first segment of repository names', {
      detail: { namespace: namespace.slice(0, 100) },
    });
  }
  const filter = { prefix: namespace !== undefined ? `${namespace}/` : single(ctx.query.prefix), contains: single(ctx.query.q) };
  const base = apiPage(ctx);
  const page: RepositoryPageRequest = { n: base.n };
  if (sort === 'name') {
    if (ctx.query.cursor !== undefined) throw badParameter('cursor', 'sort=name pages with last=');
    page.last = base.last;
  } else {
    if (base.last !== undefined) throw badParameter('last', `sort=${sort} pages with cursor=`, base.last);
    const cursor = decodeCursor(ctx, sort, order);
    if (cursor) Object.assign(page, { last: cursor.name, lastKey: cursor.key });
  }
  const keyed = sort === 'name' ? undefined : sort;
  const { entries, more } = await visibleItems(
    (p: RepositoryPageRequest) => queries.repositories(p, filter, { by: sort, descending: order === 'desc' }),
    page,
    (r) => r.name,
    caller && ((name) => caller.canPull(name)),
    (r) => ({ last: r.name, lastKey: keyed && sortKeyOf(r, keyed) }),
  );
  const last = entries.at(-1);
  const position: Record<string, string | undefined> =
    last === undefined ? {} : keyed ? { cursor: encodeCursor({ sort, order, key: sortKeyOf(last, keyed), name: last.name }) } : { last: last.name };
  const next = nextUrl(`${API_PREFIX}/repositories`, more && last !== undefined, {
    prefix: namespace === undefined ? filter.prefix : undefined,
    namespace,
    q: filter.contains,
    sort: single(ctx.query.sort),
    order: single(ctx.query.order),
    n: String(page.n),
    ...position,
  });
  return { entries, next };
}

function isName(segment: string): boolean {
  try {
    assertName(segment);
    return true;
  } catch {
    return false;
  }
}

/**
 * What the caller may do with a repository it may pull: by the access rules or what its token
 * holds; nothing but pull in a read-only registry or a pull-through cache (writes are refused
 * there), and no delete while deletes are disabled.
 */
function actionsOf(name: string, caller: Grant | undefined, options: RouteOptions, proxied: boolean) {
  const may = (action: Action) => !caller || caller.may(name, action) || caller.allows(name, action);
  const writable = !options.readOnly && !proxied;
  return { pull: true, push: writable && may('push'), delete: writable && options.deleteEnabled && may('delete') };
}
