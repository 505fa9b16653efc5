// The contract between the /v2 dispatcher (v2/router.ts) and its handlers (v2/handlers/): what a
// matched route carries and what a handler is given. In a module of its own so that the
// handlers do not import the dispatcher that imports them.
import type { Context } from 'koa';
import type { Registry, Repository } from '../../storage/repository.js';
import type { AccessController, Grant } from '../../auth/access-controller.js';
import type { Notifier } from '../../notifications/notifier.js';
import type { Logger } from '../logger.js';
import type { RouteOptions } from '../route-options.js';
import type { RepositoryRouter } from './name-routing.js';
import type { Aliases } from './aliases.js';
import { RegistryError } from '../../errors/registry-error.js';

export type Resource = 'base' | 'catalog' | 'tags' | 'manifest' | 'blob' | 'uploads' | 'upload' | 'referrers';

export interface RouteMatch {
  resource: Resource;
  /** Repository name, checked: as asked, then (once routed) the name the content is stored under. */
  name: string;
  /** The name as the client wrote it (an alias, a ?ns= short name): what answers that echo a name say. */
  asked?: string;
  /** Reference, digest or upload id from the path, percent-decoded once, unchecked. */
  param: string;
  /** The repository the request acts on; set by the dispatcher for every resource but base and catalog. */
  repository?: Repository;
  /** Who asks and what else they may do (a mount's source, the catalog); set when auth is on. */
  caller?: Grant;
}

export interface Services {
  /** Every repository, for the catalog. */
  registry: Registry;
  /** Names to repositories: aliases, proxies, local storage. */
  repositories: RepositoryRouter;
  options: RouteOptions;
  logger: Logger;
  /** Authentication and access control (auth/), when the config turns it on. */
  access?: AccessController;
  /** Short names, listed in the catalog beside their targets (stowage.aliases). */
  aliases?: Aliases;
  /** Webhook notifications, when endpoints are configured. */
  notifier?: Notifier;
}

export type Handler = (ctx: Context, route: RouteMatch, services: Services) => Promise<void> | void;

/** The route's repository; the dispatcher sets it for every repository resource. */
export function repositoryOf(route: RouteMatch): Repository {
  if (!route.repository) throw new RegistryError('UNKNOWN', `no repository for the ${route.resource} route`);
  return route.repository;
}
