// The manifest fast path. GET and HEAD of a manifest whose tag (or digest) and bytes are already
// in the cache are answered straight from Node's request listener, before Koa: it is the request
// every pull starts with, and the bench measured Koa's context, the middleware chain and its
// promises at over half of its cost. The answer is the one the Koa route gives (same headers,
// request id, metrics and access log line; a test compares them). Anything else goes to Koa:
// a cache miss, a query string, a name behind an alias or a proxy (it asks the same name router
// as the /v2 dispatcher), and every request of a registry with auth or notifications, whose
// rules live in the dispatcher.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CachedManifest } from '../../storage/repository.js';
import { isValidName } from '../../storage/grammar.js';
import type { RepositoryRouter } from './name-routing.js';
import type { Logger } from '../logger.js';
import type { RegistryMetrics } from '../metrics.js';
import { requestIdOf } from '../request-id.js';
import { decodePathParam } from '../path-param.js';

export interface FastPathDependencies {
  /** What the cache holds (RegistryStorage.cachedManifest). */
  cached: { cachedManifest(name: string, reference: string): CachedManifest | undefined };
  /** Pull statistics (storage/metadata/pull-recorder.ts): a GET answered here is a pull too. */
  pulls?: { record(repository: string, digest: string, tag?: string): void };
  /** The /v2 dispatcher's name router: only names it serves as stored are answered here. */
  repositories: RepositoryRouter;
  metrics: RegistryMetrics;
  logger: Logger;
  accessLog: boolean;
  /** Configured response headers (http.headers), as name/value pairs. */
  extraHeaders: ReadonlyArray<readonly [string, string]>;
}

const PREFIX = '/v2/';
const MANIFESTS = '/manifests/';

/** A listener that answers what it can and returns true, or returns false and touches nothing. */
export type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean;

export function createManifestFastPath(deps: FastPathDependencies): FastPath {
  const { cached, repositories, pulls, metrics, logger, accessLog, extraHeaders } = deps;

  return function manifestFastPath(req, res) {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') return false;
    const url = req.url ?? '';
    if (!url.startsWith(PREFIX) || url.includes('?')) return false;
    const at = url.lastIndexOf(MANIFESTS);
    if (at <= PREFIX.length) return false;
    const name = url.slice(PREFIX.length, at);
    const raw = url.slice(at + MANIFESTS.length);
    if (raw.includes('/') || !isValidName(name)) return false;
    // Decoded as the router decodes it (server/path-param.ts), so both name the same manifest.
    const reference = decodePathParam(raw);
    if (!repositories.isPlain(name)) return false;
    const manifest = cached.cachedManifest(name, reference);
    if (!manifest) return false;

    const started = process.hrtime.bigint();
    const requestId = requestIdOf(req);
    // setHeader, not a raw header array: observers of the response (tests, a tracing hook) read it.
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    res.setHeader('X-Request-Id', requestId);
    for (const [k, v] of extraHeaders) res.setHeader(k, v);
    res.setHeader('Docker-Content-Digest', manifest.digest);
    res.setHeader('ETag', `"${manifest.digest}"`);
    res.setHeader('Content-Type', manifest.mediaType);
    res.setHeader('Content-Length', manifest.bytes.length);
    res.statusCode = 200;
    if (method === 'HEAD') res.end();
    else {
      res.end(manifest.bytes);
      // A Map update; the counts reach the database in batches. A reference that is not the digest is a tag.
      pulls?.record(name, manifest.digest, reference === manifest.digest ? undefined : reference);
    }

    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.recordRequest('manifest', method, 200, seconds);
    metrics.fastPathAnswers.inc();
    if (method === 'GET') metrics.bytesOut.inc({ route: 'manifest' }, manifest.bytes.length);
    if (accessLog && logger.isLevelEnabled('info')) {
      logger.info({ reqId: requestId, method, url, status: 200, ms: Math.round(seconds * 1e5) / 100 }, 'request');
    }
    return true;
  };
}
