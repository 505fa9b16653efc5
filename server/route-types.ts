// The contract between the /v2 dispatcher (routes.ts) and its handlers (routes/, proxy/handlers.ts):
// what a matched route carries and what a handler is given. In a module of its own so that the
// handlers do not import the dispatcher that imports them.
import type { Context } from 'koa';
import type { RegistryStorage } from '../storage/registry.js';
import type { AccessController, Grant } from '../auth/access-controller.js';
import type { Logger } from './logger.js';
import type { PullThroughProxy } from '../proxy/pull-through.js';
import type { ProxyRoute } from '../proxy/routing.js';
import type { Aliases } from './aliases.js';
import type { RouteOptions } from './route-options.js';

export type Resource = 'base' | 'catalog' | 'tags' | 'manifest' | 'blob' | 'uploads' | 'upload' | 'referrers';

export interface RouteMatch {
  resource: Resource;
  /** Repository name, checked. Empty for base and catalog. */
  name: string;
  /** Reference, digest or upload id from the path, percent-decoded once, unchecked. */
  param: string;
  /** Set when the name is served by a pull-through upstream; name is then the stowage-side name. */
  proxy?: ProxyRoute;
  /** Who asks and what else they may do (a mount's source, the catalog); set when auth is on. */
  caller?: Grant;
}

export interface Services {
  storage: RegistryStorage;
  options: RouteOptions;
  logger: Logger;
  /** The pull-through proxy, when the configuration names upstreams. */
  proxy?: PullThroughProxy;
  /** Authentication and access control (auth/), when the config turns it on. */
  access?: AccessController;
  /** Short names (stowage.aliases). */
  aliases?: Aliases;
}

export type Handler = (ctx: Context, route: RouteMatch, services: Services) => Promise<void> | void;
