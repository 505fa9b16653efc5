// The JSON API's registry-wide routes: the session (who the caller is, what the registry allows),
// totals, namespaces and usage. Totals and the reclaimable estimate are registry-wide SQL
// aggregates (storage/metadata/usage-queries.ts) and name no repository; lists of namespaces and
// repositories show, with auth on, only what the caller may pull, as the repositories list does.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Grant } from '../../auth/access-controller.js';
import { CATALOG_ACCESS } from '../../auth/scope.js';
import type { MetadataQueries, RepositoryPageRequest } from '../../storage/metadata/metadata-queries.js';
import type { NamespaceTotals } from '../../storage/metadata/usage-queries.js';
import { visibleItems } from '../pagination.js';
import { sendJson } from '../respond.js';
import { routeOptions } from '../route-options.js';
import { PACKAGE } from '../version.js';
import { namespaceOf } from './api-json.js';
import { upstreamStates } from './api-proxies.js';
import { API_PREFIX, authorizer, queriesOf, usageOf, type ApiDependencies } from './api-request.js';

export const REGISTRY_ROUTES = [
  { method: 'GET', path: `${API_PREFIX}/session` },
  { method: 'GET', path: `${API_PREFIX}/stats` },
  { method: 'GET', path: `${API_PREFIX}/namespaces` },
  { method: 'GET', path: `${API_PREFIX}/usage` },
] as const;

/** Namespaces listed at most, and the largest namespaces and repositories usage shows. */
export const MAX_NAMESPACES = 200;
export const USAGE_TOP = 50;
/** Repositories read per query when totalling namespaces for a caller who sees only some. */
const SCAN_BATCH = 1000;

export function registerRegistryRoutes(router: Router, deps: ApiDependencies): void {
  const { config, storage } = deps;
  const authorize = authorizer(deps.access);
  const options = routeOptions(config);
  const auth = config.auth?.htpasswd ? 'htpasswd' : config.auth?.token ? 'token' : 'none';

  // Anonymous callers are a session too (user null); credentials sent are checked, so a wrong
  // password answers 401 here as on /v2. With tokens, sign-in is a token from the realm.
  router.get(`${API_PREFIX}/session`, async (ctx: Context) => {
    const caller = ctx.get('Authorization') ? await authorize(ctx, []) : undefined;
    sendJson(
      ctx,
      200,
      {
        auth,
        user: caller?.identity.user ?? null,
        deleteEnabled: options.deleteEnabled,
        readOnly: options.readOnly,
        version: PACKAGE.version,
        name: PACKAGE.name,
      },
      { 'Cache-Control': 'no-store' },
    );
  });

  router.get(`${API_PREFIX}/stats`, async (ctx: Context) => {
    const usage = usageOf(storage);
    await authorize(ctx, [CATALOG_ACCESS]);
    const totals = await usage.totals();
    sendJson(ctx, 200, {
      ...totals,
      dedupRatio: totals.storedBytes === 0 ? 1 : totals.logicalBytes / totals.storedBytes,
      upstreams: upstreamStates(config, deps.proxy).map(({ prefix, remoteurl, online }) => ({ prefix, remoteurl, online })),
    });
  });

  router.get(`${API_PREFIX}/namespaces`, async (ctx: Context) => {
    const queries = queriesOf(storage);
    const caller = await authorize(ctx, [CATALOG_ACCESS]);
    const namespaces = caller
      ? (await visibleNamespaces(queries, caller)).slice(0, MAX_NAMESPACES)
      : await usageOf(storage).namespaces(MAX_NAMESPACES, 'name');
    sendJson(ctx, 200, { namespaces });
  });

  router.get(`${API_PREFIX}/usage`, async (ctx: Context) => {
    const queries = queriesOf(storage);
    const usage = usageOf(storage);
    const caller = await authorize(ctx, [CATALOG_ACCESS]);
    const totals = await usage.totals();
    const namespaces = caller
      ? (await visibleNamespaces(queries, caller)).sort((a, b) => b.size - a.size || (a.name < b.name ? -1 : 1)).slice(0, USAGE_TOP)
      : await usage.namespaces(USAGE_TOP, 'size');
    const { entries: largest } = await visibleItems(
      (p: RepositoryPageRequest) => queries.repositories(p, {}, { by: 'size', descending: true }),
      { n: USAGE_TOP } as RepositoryPageRequest,
      (r) => r.name,
      caller && ((name) => caller.canPull(name)),
      (r) => ({ last: r.name, lastKey: r.size }),
    );
    sendJson(ctx, 200, {
      storedBytes: totals.storedBytes,
      logicalBytes: totals.logicalBytes,
      namespaces,
      repositories: largest.map((r) => ({ name: r.name, size: r.size, tags: r.tags, manifests: r.manifests })),
      reclaimable: { ...(await usage.reclaimable()), estimated: true, deleteUntagged: config.stowage.gc.deleteuntagged },
    });
  });
}

/**
 * The namespaces holding a repository the caller may pull, totalled over those repositories, by
 * name. The access rules are patterns the database cannot apply, so this reads every repository
 * name (in batches): the price of a namespace list that leaks no names, paid only with auth on.
 */
async function visibleNamespaces(queries: MetadataQueries, caller: Grant): Promise<NamespaceTotals[]> {
  const found = new Map<string, NamespaceTotals>();
  let last: string | undefined;
  for (;;) {
    const page = await queries.repositories({ n: SCAN_BATCH, last });
    for (const r of page.items) {
      const namespace = namespaceOf(r.name);
      if (namespace === null || !caller.canPull(r.name)) continue;
      let totals = found.get(namespace);
      if (!totals) found.set(namespace, (totals = { name: namespace, repositories: 0, size: 0 }));
      totals.repositories++;
      totals.size += r.size;
    }
    if (!page.more || page.items.length === 0) break;
    last = page.items.at(-1)!.name;
  }
  return [...found.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
