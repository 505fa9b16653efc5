// The one registry harness of the tests: builds the registry the way production does (configFrom
// -> a driver over one backend row -> openRegistryStorageOn() (storage/open.ts) -> openAuth, the proxy, notifications
// -> createApp, all in assemble() below), serves it on 127.0.0.1 and hands the test a supertest
// agent. Options cover what the suites vary: config (auth, proxies, aliases, notifications ...),
// htpasswd users, the proxy's clock, a wrapped driver, a kept log, and an upstream's front door
// (tokens, failures).
//
// The API and contract suites share this module within a worker (vitest.config.ts): it keeps no
// state between registries beyond the namespace counter.
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import supertest from 'supertest';
import type Koa from 'koa';
import { openAuth } from '../../auth/open-auth.js';
import type { PullThroughProxy } from '../../proxy/pull-through.js';
import { createApp } from '../../server/app.js';
import { authSettingsFrom, configFrom, type RegistryConfig } from '../../server/config.js';
import { createLogger, silentLogger, type Logger } from '../../server/logger.js';
import { RegistryMetrics } from '../../server/metrics.js';
import { proxyFromConfig } from '../../server/proxy-from-config.js';
import { Notifier } from '../../notifications/notifier.js';
import type { StorageDriver } from '../../storage/drivers/driver.js';
import type { RegistryStorage } from '../../storage/registry.js';
import { openRegistryStorageOn } from '../../storage/open.js';
import { MetadataDatabase } from '../../storage/metadata/database.js';
import { MetadataStore } from '../../storage/metadata/metadata-store.js';
import { DATABASE_KINDS, type TestDatabase } from './metadata-databases.js';
import { writeHtpasswd } from './credentials.js';
import type { DriverBackend, DriverFactory } from './driver-backend.js';
import { listen } from './http-server.js';

/** An answer as the server sent it, seen from the server side. */
export interface RecordedAnswer {
  method: string;
  url: string;
  status: number;
  apiVersion: string | undefined;
}

/** A request as it arrived, before anything answered it. */
export interface RecordedRequest {
  method: string;
  path: string;
  authorization?: string;
}

/** Local files of a registry: the backend's own directory and what the harness puts there. */
export interface RegistryPaths {
  /** The backend's local directory, holding everything below (and, on a filesystem, root). */
  dir: string;
  /** The storage root (a directory, or s3://bucket/prefix). */
  root: string;
  /** The htpasswd file of the users option. */
  htpasswd: string;
  /** Where the pull-through proxy spools blob fills. */
  spool: string;
}

/** A Distribution-style token server an upstream can demand tokens from (fake-token-issuer.ts). */
export interface TokenGate {
  admits(authorization: string | undefined, pathname: string): boolean;
  challenge(pathname: string): string;
}

type RawConfig = Record<string, unknown>;

export interface TestRegistryOptions {
  /**
   * Raw config merged over the test defaults (deletes enabled, quiet logs, the backend's storage
   * section); a function gets the registry's paths first (for auth files).
   */
  config?: RawConfig | ((paths: RegistryPaths) => RawConfig);
  /**
   * One registry for every test of the describe block instead of one per test: for suites
   * whose tests must not change anything stored (and check that they did not). useTestRegistry only.
   */
  shared?: boolean;
  /** user -> password, written to paths.htpasswd before the registry starts ({} for a file with nobody). */
  users?: Record<string, string>;
  /** user -> bcrypt cost, for users whose hash must be slower than the default 4. */
  costs?: Record<string, number>;
  /** Wraps the driver each server process opens (the race tests' pausing driver). */
  wrapDriver?: (driver: StorageDriver) => StorageDriver;
  /** The app's logger (silent by default), for tests that check what is logged. */
  logger?: Logger;
  /** Keeps every line logged, at trace level and with the access log on, in reg.logs. */
  logs?: boolean;
  /**
   * stowage.cache.ttl of the storage (2s by default). The proxy suites use '1ms', so that every
   * read sees what was just written, by the proxy or by the test straight into an upstream.
   */
  cacheTtl?: string;
  /** The pull-through proxy's clock for TTLs and pull times (helpers/test-clock.ts). */
  clock?: { readonly now: () => number };
  /** The deadline of one blob fill of the pull-through proxy. */
  fillTimeoutMs?: number;
  /**
   * Answers 401 with this server's Bearer challenge, before the app sees it, every request
   * without a token it signed: an upstream in Distribution's token flow.
   */
  requireToken?: TokenGate;
  /**
   * The metadata database: an SQLite file in the backend's directory (the default, as production
   * has one beside its data), a fresh database on the test run's PostgreSQL, or none at all (the
   * storage-walking listings of a RegistryStorage without one). { url } shares a database the
   * test made (replicas on one PostgreSQL); the test drops it.
   */
  database?: 'sqlite' | 'postgres' | 'none' | { url: string };
}

export interface TestRegistry {
  app: Koa;
  /** supertest bound to the running server: reg.request.get('/v2/'). */
  request: ReturnType<typeof supertest>;
  storage: RegistryStorage;
  /** The pull-through proxy the config sets up; throws when it sets none up. */
  readonly proxy: PullThroughProxy;
  config: RegistryConfig;
  backend: DriverBackend;
  /** The storage root (a directory, or s3://bucket/prefix). */
  root: string;
  paths: RegistryPaths;
  /** Port of the server on 127.0.0.1, for raw requests supertest cannot make. */
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  /** 127.0.0.1:<port> */
  host: string;
  /** The metadata database's URL (undefined with database: 'none'): for a second process on it. */
  databaseUrl?: string;
  /** Answers the server sent (across restarts) since the last check. */
  answers: RecordedAnswer[];
  /** Every request that arrived (across restarts), in order. */
  requests: RecordedRequest[];
  /** Requests whose method matches and whose path matches the pattern. */
  count(method: string, pattern: RegExp): number;
  /** While set, every request is answered with this status (and still recorded). */
  failWith?: number;
  /** What the registry logged (across restarts), with the logs option. */
  logs: string[];
  /**
   * Stops the server and starts a new process over the same storage: new driver, new
   * RegistryStorage, new app and server. This object's fields then point at the new one.
   */
  restart(): Promise<void>;
  /** Stops the server (and the proxy and notifications); the storage stays. */
  stop(): Promise<void>;
  /** Stops the server and removes the backend's data. */
  cleanup(): Promise<void>;
}

const TEST_DEFAULTS: RawConfig = { log: { level: 'error', accesslog: { disabled: true } }, storage: { delete: { enabled: true } } };
const KEPT_LOG: RawConfig = { log: { level: 'trace', accesslog: { disabled: false } } };

function mergeConfig(base: RawConfig, extra: RawConfig): RawConfig {
  const out: RawConfig = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    const isMap = (v: unknown): v is RawConfig => typeof v === 'object' && v !== null && !Array.isArray(v);
    out[key] = isMap(current) && isMap(value) ? mergeConfig(current, value) : value;
  }
  return out;
}

/** The test defaults, the storage section naming the backend, the test's config, then what the options ask for. */
function configFor(backend: DriverBackend, options: TestRegistryOptions, paths: RegistryPaths): RegistryConfig {
  const layers: RawConfig[] = [TEST_DEFAULTS, { storage: backend.config }];
  layers.push(typeof options.config === 'function' ? options.config(paths) : (options.config ?? {}));
  if (options.logs) layers.push(KEPT_LOG);
  if (options.cacheTtl) layers.push({ stowage: { cache: { ttl: options.cacheTtl } } });
  return configFrom(layers.reduce(mergeConfig));
}

interface Assembled {
  app: Koa;
  storage: RegistryStorage;
  proxy?: PullThroughProxy;
  /** Stops what runs beside the requests: the proxy's fills and notification deliveries. */
  close(): Promise<void>;
}

/**
 * The registry as server/serve.ts assembles it, through the public entry points only. The one
 * place the tests build an app: a change to how the app is put together changes this function.
 */
async function assemble(
  driver: StorageDriver,
  config: RegistryConfig,
  logger: Logger,
  options: TestRegistryOptions,
  spoolDir: string,
  databaseUrl: string | undefined,
): Promise<Assembled> {
  const metadata = databaseUrl ? new MetadataStore(await MetadataDatabase.open(databaseUrl, { fsync: false })) : undefined;
  // As production opens it (storage/open.ts): the layout check, a registry:2 tree served in place, the first import.
  const storage = await openRegistryStorageOn(
    driver,
    { ttlMs: config.stowage.cache.ttlMs, manifestBytes: config.stowage.cache.manifestbytes },
    metadata,
    { immutable: config.stowage.immutable, quotas: config.stowage.quotas, audit: config.stowage.audit },
  );
  const auth = await openAuth(authSettingsFrom(config), logger, storage.robots);
  const metrics = new RegistryMetrics();
  const proxy = proxyFromConfig(config, storage, logger, {
    spoolDir,
    fillTimeoutMs: options.fillTimeoutMs,
    now: options.clock?.now,
    observer: metrics.proxyObserver(),
  });
  const notifier = new Notifier(config.notifications?.endpoints ?? [], logger);
  const app = createApp({ config, storage, logger, metrics, auth, proxy, notifier });
  return {
    app,
    storage,
    proxy,
    async close() {
      notifier.stop();
      await proxy?.close();
      await storage.close();
    },
  };
}

interface Running extends Assembled {
  port: number;
  stop(): Promise<void>;
}

export async function startTestRegistry(factory: DriverFactory, options: TestRegistryOptions = {}): Promise<TestRegistry> {
  if (options.logs && options.logger) throw new Error('startTestRegistry: give either logs or logger');
  const backend = await factory.create();
  const paths: RegistryPaths = {
    dir: backend.dir,
    root: backend.root,
    htpasswd: path.join(backend.dir, 'users.htpasswd'),
    spool: path.join(backend.dir, 'spool'),
  };
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  const answers: RecordedAnswer[] = [];
  const requests: RecordedRequest[] = [];
  let config: RegistryConfig;
  let running: Running;
  let failWith: number | undefined;
  // One database for the registry's life, across restarts, as storage is.
  const kind = options.database ?? 'sqlite';
  const database: TestDatabase | undefined =
    kind === 'none'
      ? undefined
      : typeof kind === 'object'
        ? { url: kind.url, drop: async () => {} }
        : await DATABASE_KINDS.find((k) => k.name === kind)!.create();

  // One process: the app over a fresh driver, behind a server that records what passes.
  const serve = async (): Promise<Running> => {
    const logger = options.logs ? createLogger('trace', sink) : (options.logger ?? silentLogger());
    const driver = options.wrapDriver ? options.wrapDriver(backend.driver()) : backend.driver();
    const assembled = await assemble(driver, config, logger, options, paths.spool, database?.url);
    const callback = assembled.app.callback();
    const listening = await listen((req, res) => {
      const url = new URL(req.url ?? '/', 'http://registry');
      requests.push({ method: req.method ?? '', path: url.pathname, authorization: req.headers.authorization });
      res.on('finish', () => {
        const version = res.getHeader('docker-distribution-api-version');
        const apiVersion = version === undefined ? undefined : String(version);
        answers.push({ method: req.method ?? '', url: req.url ?? '', status: res.statusCode, apiVersion });
      });
      if (failWith !== undefined) {
        res.writeHead(failWith).end();
        return;
      }
      const gate = options.requireToken;
      if (gate && !gate.admits(req.headers.authorization, url.pathname)) {
        res.writeHead(401, { 'Content-Type': 'application/json', 'WWW-Authenticate': gate.challenge(url.pathname) });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
        return;
      }
      void callback(req, res);
    }).catch(async (err: unknown) => {
      await assembled.close();
      throw err;
    });
    return {
      ...assembled,
      port: listening.port,
      async stop() {
        await listening.close();
        await assembled.close();
      },
    };
  };

  try {
    if (options.users || options.costs) await writeHtpasswd(paths.htpasswd, options.users ?? {}, options.costs);
    config = configFor(backend, options, paths);
    running = await serve();
  } catch (err) {
    await backend.cleanup();
    await database?.drop();
    throw err;
  }

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await running.stop();
  };
  const refresh = () => {
    reg.app = running.app;
    reg.storage = running.storage;
    reg.port = running.port;
    reg.url = `http://127.0.0.1:${running.port}`;
    reg.host = `127.0.0.1:${running.port}`;
    reg.request = supertest(reg.url);
  };
  const reg: TestRegistry = {
    app: running.app,
    request: supertest('http://127.0.0.1'),
    storage: running.storage,
    get proxy(): PullThroughProxy {
      if (!running.proxy) throw new Error('the config of this registry sets up no pull-through proxy');
      return running.proxy;
    },
    config,
    backend,
    databaseUrl: database?.url,
    root: backend.root,
    paths,
    port: 0,
    url: '',
    host: '',
    answers,
    requests,
    count: (method, pattern) => requests.filter((r) => r.method === method && pattern.test(r.path)).length,
    get failWith() {
      return failWith;
    },
    set failWith(status: number | undefined) {
      failWith = status;
    },
    logs,
    async restart() {
      await stop();
      running = await serve();
      stopped = false;
      refresh();
    },
    stop,
    async cleanup() {
      try {
        await stop();
      } finally {
        await backend.cleanup();
        await database?.drop();
      }
    },
  };
  refresh();
  return reg;
}

/**
 * A registry per test (or per describe block, with shared): started before, and after each test
 * checked to have sent Docker-Distribution-API-Version on every answer; removed at the end.
 * Read it through the getter.
 */
export function useTestRegistry(factory: DriverFactory, options: TestRegistryOptions = {}): () => TestRegistry {
  let current: TestRegistry | undefined;
  const start = async () => {
    current = await startTestRegistry(factory, options);
  };
  const stop = async () => {
    const reg = current;
    current = undefined;
    await reg?.cleanup();
  };
  const checkAnswers = () => {
    if (!current) return;
    const unversioned = current.answers.filter((a) => a.apiVersion !== 'registry/2.0');
    current.answers.length = 0;
    expect(unversioned, 'answers without Docker-Distribution-API-Version: registry/2.0').toEqual([]);
  };
  if (options.shared) {
    beforeAll(start);
    afterEach(checkAnswers);
    afterAll(stop);
  } else {
    beforeEach(start);
    afterEach(async () => {
      try {
        checkAnswers();
      } finally {
        await stop();
      }
    });
  }
  return () => {
    if (!current) throw new Error('the test registry is only available inside a test');
    return current;
  };
}

let namespaces = 0;

/**
 * A repository namespace no other test of the file uses ("ns7"), so tests can share one registry
 * (useTestRegistry with shared) and still start from empty repositories.
 */
export function freshNamespace(): string {
  return `ns${++namespaces}`;
}
