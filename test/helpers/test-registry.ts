// Builds the registry the way production does (driver -> RegistryStorage.open() -> configFrom ->
// createApp) over one backend row, serves it on 127.0.0.1 and hands the test a supertest agent.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import supertest from 'supertest';
import type Koa from 'koa';
import { createApp } from '../../server/app.js';
import { configFrom } from '../../server/config.js';
import type { Logger } from '../../server/logger.js';
import { RegistryStorage } from '../../storage/registry.js';
import type { DriverBackend, DriverFactory } from './drivers.js';
import type { StorageDriver } from '../../storage/drivers/driver.js';

export interface RecordedAnswer {
  method: string;
  url: string;
  status: number;
  apiVersion: string | undefined;
}

export interface TestRegistry {
  app: Koa;
  /** supertest bound to the running server: reg.request.get('/v2/'). */
  request: ReturnType<typeof supertest>;
  storage: RegistryStorage;
  backend: DriverBackend;
  root: string;
  /** Port of the server on 127.0.0.1, for raw requests supertest cannot make. */
  port: number;
  /** Answers the server sent (across restarts) since the last check, seen from the server side. */
  answers: RecordedAnswer[];
  /**
   * Stops the server and starts a new process over the same storage: new driver, new
   * RegistryStorage, new app and server. This object's fields then point at the new one.
   */
  restart(): Promise<void>;
  /** Stops the server and removes the backend's data. */
  cleanup(): Promise<void>;
}

export interface TestRegistryOptions {
  /** Raw config merged over the test defaults (deletes enabled, quiet logs). */
  config?: Record<string, unknown>;
  /**
   * One registry for every test of the describe block instead of one per test: for suites
   * whose tests must not change anything stored (and check that they did not).
   */
  shared?: boolean;
  /** Wraps the driver each server process opens (the race tests' pausing driver). */
  wrapDriver?: (driver: StorageDriver) => StorageDriver;
  /** The app's logger (silent by default), for tests that check what is logged. */
  logger?: Logger;
}

function mergeConfig(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
    out[key] = isMap(current) && isMap(value) ? mergeConfig(current, value) : value;
  }
  return out;
}

interface RunningProcess {
  app: Koa;
  storage: RegistryStorage;
  port: number;
  stop(): Promise<void>;
}

async function serve(backend: DriverBackend, options: TestRegistryOptions, answers: RecordedAnswer[]): Promise<RunningProcess> {
  const storage = new RegistryStorage(options.wrapDriver ? options.wrapDriver(backend.driver()) : backend.driver());
  await storage.open();
  const config = configFrom(
    mergeConfig({ log: { level: 'error', accesslog: { disabled: true } }, storage: { delete: { enabled: true } } }, options.config ?? {}),
  );
  const app = createApp({ config, storage, logger: options.logger });
  const callback = app.callback();
  const server = http.createServer((req, res) => {
    res.on('finish', () => {
      const version = res.getHeader('docker-distribution-api-version');
      answers.push({ method: req.method ?? '', url: req.url ?? '', status: res.statusCode, apiVersion: version === undefined ? undefined : String(version) });
    });
    void callback(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    app,
    storage,
    port: (server.address() as AddressInfo).port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export async function startTestRegistry(factory: DriverFactory, options: TestRegistryOptions = {}): Promise<TestRegistry> {
  const backend = await factory.create();
  const answers: RecordedAnswer[] = [];
  let running: RunningProcess;
  try {
    running = await serve(backend, options, answers);
  } catch (err) {
    await backend.cleanup();
    throw err;
  }
  const reg: TestRegistry = {
    app: running.app,
    request: supertest(`http://127.0.0.1:${running.port}`),
    storage: running.storage,
    backend,
    root: backend.root,
    port: running.port,
    answers,
    async restart() {
      await running.stop();
      running = await serve(backend, options, answers);
      reg.app = running.app;
      reg.storage = running.storage;
      reg.port = running.port;
      reg.request = supertest(`http://127.0.0.1:${running.port}`);
    },
    async cleanup() {
      await running.stop();
      await backend.cleanup();
    },
  };
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
