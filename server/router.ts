// The one router for every path outside /v2/ (the /v2 API has its own dispatcher, server/routes.ts):
// each route module registers its routes on it (token, operator and admin routes, the JSON API
// under /api/v1/, the web UI under /ui/), and a request none of them takes (an unknown path,
// or a known path with a method it does not serve) gets the spec's JSON 404. OPS_ROUTES
// (server/routes/ops.ts) lists what it serves, for openapi.yaml's test.
import Router, { RouterEvents } from '@koa/router';
import type { Context } from 'koa';
import { RegistryError } from '../errors/registry-error.js';
import type { TokenIssuer } from '../auth/token-issuer.js';
import { registerOpsRoutes, type OpsDependencies } from './routes/ops.js';
import { registerAdminRoutes } from './routes/admin.js';
import { registerAdminRobotRoutes } from './routes/admin-robots.js';
import { registerAdminRetentionRoutes } from './routes/admin-retention.js';
import { registerAdminAuditRoutes } from './routes/admin-audit.js';
import type { RobotAccounts } from '../auth/robot-accounts.js';
import { registerTokenRoute } from './routes/token.js';
import { registerApiRoutes } from './routes/api.js';
import { registerUiRoutes } from './routes/ui.js';
import { routeOptions } from './route-options.js';
import type { PullThroughProxy } from '../proxy/pull-through.js';
import type { Notifier } from '../notifications/notifier.js';

export interface RouterDependencies extends OpsDependencies {
  /** The built-in token endpoint's issuer (stowage.auth.issuer); without it /token answers 405. */
  issuer?: TokenIssuer;
  /** The pull-through proxy (the JSON API shows its upstreams' state and counters). */
  proxy?: PullThroughProxy;
  /** Robot accounts (with auth and a metadata database), managed by admins at /admin/robots. */
  robots?: RobotAccounts;
  admins?: ReadonlySet<string>;
  /** Webhook notifications (when endpoints are configured), for deletions outside /v2 (retention). */
  notifier?: Notifier;
}

function notFound(ctx: Context): never {
  throw new RegistryError('NAME_UNKNOWN', 'not found', { status: 404, detail: { path: ctx.path.slice(0, 300) } });
}

export function createRouter(deps: RouterDependencies): Router {
  const router = new Router();
  registerTokenRoute(router, deps.issuer);
  registerOpsRoutes(router, deps);
  registerAdminRoutes(router, { storage: deps.storage, options: routeOptions(deps.config), access: deps.access });
  registerAdminRobotRoutes(router, { access: deps.access, robots: deps.robots, admins: deps.admins ?? new Set() });
  registerAdminRetentionRoutes(router, {
    config: deps.config,
    storage: deps.storage,
    access: deps.access,
    admins: deps.admins ?? new Set(),
    notifier: deps.notifier,
  });
  registerAdminAuditRoutes(router, { storage: deps.storage, access: deps.access, admins: deps.admins ?? new Set() });
  registerApiRoutes(router, { config: deps.config, storage: deps.storage, access: deps.access, proxy: deps.proxy });
  registerUiRoutes(router);
  // Instead of passing the request on: nothing after the router answers it.
  router.on(RouterEvents.NotFound, notFound);
  return router;
}
