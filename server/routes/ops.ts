// Routes outside /v2 for people and operators: GET / (the web UI for browsers, the registry's
// status as JSON for tools), the icon, liveness and readiness probes, and Prometheus metrics,
// registered on the router of server/router.ts. OPS_ROUTES lists everything that router serves,
// for openapi.yaml's test.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { visiblePage } from '../pagination.js';
import type { RegistryStorage } from '../../storage/registry.js';
import type { RegistryConfig } from '../config.js';
import type { RegistryMetrics } from '../metrics.js';
import { sendBytes, sendEmpty, sendJson } from '../respond.js';
import { PACKAGE } from '../version.js';
import { FAVICON } from '../favicon.js';
import { routeOptions } from '../route-options.js';
import type { AccessController, Grant } from '../../auth/access-controller.js';
import { CATALOG_ACCESS } from '../../auth/scope.js';
import { API_ROUTES } from './api.js';
import { UI_ROUTES } from './ui.js';
import { Aliases } from '../v2/aliases.js';
import { authorizeRequest } from '../authorize-request.js';

export const OPS_ROUTES = [
  { method: 'GET', path: '/' },
  { method: 'GET', path: '/healthz' },
  { method: 'GET', path: '/readyz' },
  { method: 'GET', path: '/metrics' },
  { method: 'GET', path: '/favicon.ico' },
  // Served by server/routes/admin.ts.
  { method: 'POST', path: '/admin/retag' },
  // Served by server/routes/admin-robots.ts.
  { method: 'GET', path: '/admin/robots' },
  { method: 'POST', path: '/admin/robots' },
  { method: 'DELETE', path: '/admin/robots/{robot}' },
  // Served by server/routes/admin-retention.ts.
  { method: 'GET', path: '/admin/retention/plan' },
  { method: 'POST', path: '/admin/retention/run' },
  // Served by server/routes/admin-audit.ts.
  { method: 'GET', path: '/admin/audit' },
  // Served by server/routes/token.ts (405 unless stowage.auth.issuer is set).
  { method: 'GET', path: '/token' },
  { method: 'POST', path: '/token' },
  // Served by server/routes/api.ts.
  ...API_ROUTES,
  // Served by server/routes/ui.ts.
  ...UI_ROUTES,
] as const;

const PAGE_REPOSITORIES = 200;
/** Tags listed per repository (the count says how many there are). */
const TAGS_SHOWN = 100;

/** What GET / answers as JSON: what this registry is and the first page of what it holds. */
export interface RegistryStatus {
  name: string;
  version: string;
  storage: string;
  deleteEnabled: boolean;
  readOnly: boolean;
  upstreams: Array<{ prefix: string; remoteurl: string }>;
  /** The first page of repositories, each with its first tags and how many it has. */
  repositories: Array<{ name: string; tags: string[]; tagCount: number }>;
  repositoryCount: number;
}

export interface OpsDependencies {
  config: RegistryConfig;
  storage: RegistryStorage;
  metrics: RegistryMetrics;
  /** With auth on, GET / lists only what the caller may pull, as _catalog does. */
  access?: AccessController;
}

export function upstreamsOf(config: RegistryConfig): Array<{ prefix: string; remoteurl: string }> {
  const upstreams: Array<{ prefix: string; remoteurl: string }> = [];
  if (config.proxy) upstreams.push({ prefix: '', remoteurl: config.proxy.remoteurl });
  for (const p of config.stowage.proxies ?? []) upstreams.push({ prefix: p.prefix, remoteurl: p.remoteurl });
  return upstreams;
}

async function statusOf({ config, storage }: OpsDependencies, caller?: Grant): Promise<RegistryStatus> {
  const canPull = caller ? (name: string) => caller.canPull(name) : undefined;
  const aliases = new Aliases(config.stowage.aliases);
  let shown: string[];
  let repositoryCount: number;
  if (aliases.empty) {
    // A page of names and of each one's tags: the cost follows the page, not the registry.
    shown = (await visiblePage((page) => storage.catalog.page(page), { n: PAGE_REPOSITORIES }, canPull)).entries;
    repositoryCount = canPull ? (await visiblePage((page) => storage.catalog.page(page), {}, canPull)).entries.length : await storage.catalog.count();
  } else {
    // Short names count as _catalog lists them: beside their targets (that needs the whole list).
    const all = aliases.withAliases(await storage.catalog.repositories());
    const visible = canPull ? all.filter(canPull) : all;
    shown = visible.slice(0, PAGE_REPOSITORIES);
    repositoryCount = visible.length;
  }
  const repositories = await Promise.all(
    shown.map(async (name) => {
      const stored = aliases.resolve(name)?.name ?? name;
      return {
        name,
        tags: (await storage.manifests.tagsPage(stored, { n: TAGS_SHOWN }))?.items ?? [],
        tagCount: await storage.manifests.tagCount(stored),
      };
    }),
  );
  const options = routeOptions(config);
  return {
    name: PACKAGE.name,
    version: PACKAGE.version,
    storage: storage.kind,
    deleteEnabled: options.deleteEnabled,
    readOnly: options.readOnly,
    upstreams: upstreamsOf(config),
    repositories,
    repositoryCount,
  };
}

export function registerOpsRoutes(router: Router, deps: OpsDependencies): void {
  router.get('/', async (ctx: Context) => {
    // People get the web UI (which asks the JSON API, with the same access rules, for the rest).
    if (ctx.accepts('html', 'json') !== 'json') {
      sendEmpty(ctx, 302, { Location: '/ui/' });
      return;
    }
    const caller = deps.access ? await authorizeRequest(ctx, deps.access, [CATALOG_ACCESS]) : undefined;
    const status = await statusOf(deps, caller);
    sendJson(ctx, 200, { ...status, repositories: status.repositories.map((r) => ({ name: r.name, tags: r.tags.length })) });
  });
  router.get('/healthz', (ctx: Context) => sendJson(ctx, 200, { status: 'ok' }));
  router.get('/readyz', async (ctx: Context) => {
    try {
      await deps.storage.check();
    } catch (err) {
      sendJson(ctx, 503, { status: 'unavailable', storage: (err as Error).message });
      return;
    }
    sendJson(ctx, 200, { status: 'ready', storage: deps.storage.kind, upstreams: upstreamsOf(deps.config).map((u) => u.remoteurl) });
  });
  // Browsers ask for it on every visit; a day in their cache.
  router.get('/favicon.ico', (ctx: Context) => sendBytes(ctx, 200, 'image/x-icon', FAVICON, { 'Cache-Control': 'public, max-age=86400' }));
  router.get('/metrics', async (ctx: Context) => {
    sendBytes(ctx, 200, deps.metrics.registry.contentType, Buffer.from(await deps.metrics.registry.metrics()));
  });
}
