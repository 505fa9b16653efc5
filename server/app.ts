// The Koa application: the middleware order and nothing else.
//   1. request id, API version and configured headers on every answer, one log line per request
//   2. errors -> the spec's JSON envelope (server/errors.ts)
//   3. /v2 dispatch (server/routes.ts); anything else is a JSON 404
import Koa from 'koa';
import type { Context, Next } from 'koa';
import type { RegistryStorage } from '../storage/registry.js';
import { RegistryError } from '../storage/errors.js';
import type { RegistryConfig } from './config.js';
import { errorMiddleware } from './errors.js';
import type { Logger } from './logger.js';
import { silentLogger } from './logger.js';
import { v2Router, type RouteOptions } from './routes.js';
import { PullThroughProxy } from './proxy/pull-through.js';

export interface AppOptions {
  config: RegistryConfig;
  storage: RegistryStorage;
  logger?: Logger;
  /** The pull-through proxy; by default built from config.proxy and config.stowage.proxies. */
  proxy?: PullThroughProxy;
}

let requestCounter = 0;
const bootId = Date.now().toString(36);

function commonHeaders(config: RegistryConfig, logger: Logger) {
  const extra = Object.entries(config.http.headers ?? {}).map(([k, v]) => [k, v.join(', ')] as const);
  const accessLog = !config.log.accesslog.disabled;
  return async function headersAndAccessLog(ctx: Context, next: Next): Promise<void> {
    const started = process.hrtime.bigint();
    const requestId = ctx.get('X-Request-Id') || `${bootId}-${(++requestCounter).toString(36)}`;
    ctx.state.requestId = requestId;
    ctx.set('Docker-Distribution-API-Version', 'registry/2.0');
    ctx.set('X-Request-Id', requestId);
    for (const [k, v] of extra) ctx.set(k, v);
    try {
      await next();
    } finally {
      if (accessLog && logger.isLevelEnabled('info')) {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        logger.info({ reqId: requestId, method: ctx.method, url: ctx.url, status: ctx.status, ms: Math.round(ms * 100) / 100 }, 'request');
      }
    }
  };
}

export function routeOptions(config: RegistryConfig): RouteOptions {
  return {
    deleteEnabled: config.storage.delete.enabled,
    readOnly: config.storage.maintenance?.readonly?.enabled ?? false,
  };
}

export function createApp({ config, storage, logger = silentLogger(), proxy }: AppOptions): Koa {
  const app = new Koa();
  app.proxy = false;
  // Errors are answered and logged by errorMiddleware; Koa's default handler would print them again.
  app.silent = true;
  const routeV2 = v2Router({ storage, options: routeOptions(config), logger, proxy: proxy ?? PullThroughProxy.fromConfig(config, storage, logger) });
  app.use(commonHeaders(config, logger));
  app.use(errorMiddleware(logger));
  app.use(async (ctx) => {
    if (ctx.path === '/v2' || ctx.path.startsWith('/v2/')) return routeV2(ctx);
    throw new RegistryError('NAME_UNKNOWN', 'not found', { status: 404, detail: { path: ctx.path.slice(0, 300) } });
  });
  return app;
}
