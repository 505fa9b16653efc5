// The Koa application: the middleware order and nothing else.
//   0. before Koa: GET/HEAD of a cached manifest (server/fast-path.ts)
//   1. request id, API version and configured headers on every answer; one log line and the
//      metrics of every request
//   2. errors -> the spec's JSON envelope (server/errors.ts); the client's address and the audit
//      log's record of the request (server/client-address.ts, request-audit.ts); upload load shedding (the total
//      here, each client's share in the router once the caller is known)
//   3. /v2 dispatch (server/v2/router.ts: it asks auth/ whether the caller may, routes the name
//      to a Repository once, wraps it for webhook events, then calls the handler); every other
//      path goes to one router (server/router.ts): the token endpoint, the operator and admin
//      routes, the JSON API (/api/v1/), and a JSON 404 for anything else
import type { IncomingMessage, ServerResponse } from 'node:http';
import Koa from 'koa';
import type { Context, Next } from 'koa';
import type { RegistryStorage } from '../storage/registry.js';
import { authEnabled, type RegistryConfig } from './config.js';
import type { RegistryAuth } from '../auth/open-auth.js';
import { errorMiddleware } from './errors.js';
import type { Logger } from './logger.js';
import { silentLogger } from './logger.js';
import { v2Router } from './v2/router.js';
import { routeOptions } from './route-options.js';
import { RegistryMetrics } from './metrics.js';
import { createRouter } from './router.js';
import { Aliases } from './v2/aliases.js';
import { requestIdOf } from './request-id.js';
import { isUploadRequest, uploadLimiter } from './load-shedding.js';
import { refuseUnknownTransferCoding } from './request-body.js';
import { createManifestFastPath, type FastPath } from './v2/fast-path.js';
import { RepositoryRouter } from './v2/name-routing.js';
import { Notifier } from '../notifications/notifier.js';
import type { PullThroughProxy } from '../proxy/pull-through.js';
import { proxyFromConfig } from './proxy-from-config.js';
import { clientAddress, TrustedProxies } from './client-address.js';
import { auditMiddleware } from './request-audit.js';

export { routeOptions };

export interface AppOptions {
  config: RegistryConfig;
  storage: RegistryStorage;
  logger?: Logger;
  /** The pull-through proxy; by default built from config.proxy and config.stowage.proxies. */
  proxy?: PullThroughProxy;
  /** Prometheus metrics; a fresh registry per app by default. */
  metrics?: RegistryMetrics;
  /** Authentication, opened from the config by openAuth(authSettingsFrom(config)); required when config.auth is set. */
  auth?: RegistryAuth;
  /** Webhook notifications; by default built from config.notifications. */
  notifier?: Notifier;
}

function accessMiddleware(config: RegistryConfig, logger: Logger, metrics: RegistryMetrics) {
  const extra = Object.entries(config.http.headers ?? {}).map(([k, v]) => [k, v.join(', ')] as const);
  const accessLog = !config.log.accesslog.disabled;
  return async function headersLogAndMetrics(ctx: Context, next: Next): Promise<void> {
    const started = process.hrtime.bigint();
    const { req, res } = ctx;
    // Hold the socket: req.socket can be null by the end of a request answered before its body.
    const socket = req.socket;
    const bytesReadBefore = socket.bytesRead;
    const requestId = requestIdOf(req);
    ctx.state.requestId = requestId;
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    res.setHeader('X-Request-Id', requestId);
    for (const [k, v] of extra) res.setHeader(k, v);
    const method = req.method ?? 'GET';
    const isUpload = isUploadRequest(ctx);
    if (isUpload) metrics.uploadsInFlight.inc();
    try {
      await next();
    } finally {
      if (isUpload) metrics.uploadsInFlight.dec();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // /v2 routes name their resource; operator routes their path; anything else is 'other'.
      const route = ctx.state.route ?? (ctx as { _matchedRoute?: string })._matchedRoute ?? 'other';
      const status = res.statusCode;
      const refusal = ctx.state.refusal;
      if (refusal) metrics.refusals.inc({ reason: refusal.reason });
      metrics.recordRequest(route, method, status, seconds, status >= 500 && (refusal?.fault ?? true));
      const length = method === 'HEAD' ? 0 : Number(res.getHeader('content-length') ?? 0);
      if (length > 0) metrics.bytesOut.inc({ route }, length);
      const received = socket.bytesRead - bytesReadBefore;
      if (received > 0) metrics.bytesIn.inc({ route }, received);
      if (accessLog && logger.isLevelEnabled('info')) {
        logger.info({ reqId: requestId, method, url: ctx.url, status, ms: Math.round(seconds * 1e5) / 100 }, 'request');
      }
    }
  };
}

/** Koa, with the manifest fast path (server/fast-path.ts) offered each request first. */
class RegistryApp extends Koa {
  fastPath?: FastPath;
  /** Called as each request begins, before anything cached answers it. */
  beforeEach?: () => void;

  override callback(): ReturnType<Koa['callback']> {
    const handle = super.callback();
    const { fastPath: fast, beforeEach: before } = this;
    return (req, res) => {
      before?.();
      return fast?.(req as IncomingMessage, res as ServerResponse) ? Promise.resolve() : handle(req, res);
    };
  }
}

export function createApp({ config, storage, logger = silentLogger(), proxy, metrics = new RegistryMetrics(), auth, notifier }: AppOptions): Koa {
  // Never serve an open registry from a config that asks for authentication.
  if (authEnabled(config) && !auth) throw new Error('the config sets auth: pass createApp the RegistryAuth openAuth() builds from it');
  const app = new RegistryApp();
  app.proxy = false;
  // Errors are answered and logged by errorMiddleware; Koa's default handler would print them again.
  app.silent = true;
  // What a command beside the server (stowage retag, rm, gc) wrote is served from the next request on.
  app.beforeEach = () => storage.catchUp();
  const pullThrough = proxy ?? proxyFromConfig(config, storage, logger, { observer: metrics.proxyObserver() });
  const aliases = new Aliases(config.stowage.aliases);
  const events = notifier ?? new Notifier(config.notifications?.endpoints ?? [], logger);
  // Names are routed once, for the dispatcher and the fast path alike (server/v2/name-routing.ts).
  const repositories = new RepositoryRouter(storage, pullThrough, aliases);
  metrics.observeQuotas(storage.quotas);
  const routeV2 = v2Router({
    registry: storage,
    repositories,
    options: routeOptions(config),
    logger,
    access: auth?.controller,
    aliases,
    notifier: events.enabled ? events : undefined,
  });
  app.use(accessMiddleware(config, logger, metrics));
  app.use(errorMiddleware(logger));
  // Who the client is (http.trustedproxies), then the audit log's record of the request (inside
  // the error middleware, so it sees what was thrown).
  app.use(clientAddress(new TrustedProxies(config.http.trustedproxies)));
  app.use(auditMiddleware(storage.audit));
  app.use(refuseUnknownTransferCoding);
  app.use(uploadLimiter({ total: config.stowage.http.maxuploads, perClient: config.stowage.http.maxuploadsperclient }));
  // Auth and notifications act on every request in the dispatcher: with either on, no fast path.
  if (!auth && !events.enabled) {
    app.fastPath = createManifestFastPath({
      cached: storage,
      pulls: storage.pulls,
      repositories,
      metrics,
      logger,
      accessLog: !config.log.accesslog.disabled,
      extraHeaders: Object.entries(config.http.headers ?? {}).map(([k, v]) => [k, v.join(', ')] as const),
    });
  }
  app.use(async (ctx, next) => {
    if (ctx.path === '/v2' || ctx.path.startsWith('/v2/')) return routeV2(ctx);
    return next();
  });
  app.use(
    createRouter({
      config,
      storage,
      metrics,
      access: auth?.controller,
      issuer: auth?.issuer,
      proxy: pullThrough,
      robots: auth?.robots,
      admins: auth?.admins,
      notifier: events.enabled ? events : undefined,
    }).routes(),
  );
  return app;
}
