// Starting and stopping the processes under test: stowage (the bundled production entry,
// dist/stowage.mjs) and the reference (CNCF Distribution, Debian's docker-registry) with
// equivalent configs, on the filesystem, on S3 (s3rver, stowage only) or as pull-through proxies,
// and the ceiling servers. Each gets a fresh empty data directory, listens on 127.0.0.1 only and
// logs to a file in the work dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keepAliveAgent, type Target } from './client.js';
import { sleep } from './pool.js';
import { peakRssBytes as peakRssOf } from './rss.js';

/** The repository root (this file runs as dist/bench/servers.js). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** What `npm start` runs: the server bundled into one file by scripts/bundle.mjs (npm run build). */
export const STOWAGE_ENTRY = join(REPO_ROOT, 'dist/stowage.mjs');
export const REFERENCE_BINARY = '/usr/bin/docker-registry';
const CEILING_SERVER = join(dirname(fileURLToPath(import.meta.url)), 'ceiling-server.js');
const S3RVER_SERVER = join(dirname(fileURLToPath(import.meta.url)), 's3rver-server.js');

export type RegistryKind = 'stowage' | 'reference';

export const LABELS: Record<string, string> = {
  stowage: 'stowage',
  reference: 'reference (Distribution 2.8.2)',
  'stowage-s3': 'stowage on S3 (s3rver)',
  'stowage-nofsync': 'stowage with fsync off',
  'node-http': 'bare Node http (ceiling)',
  'stowage-s3-pg': 'stowage on S3 (s3rver) + PostgreSQL',
  'stowage-npm': 'stowage by npm start',
  'node-floor': "bare Node http server (Node's own start-up)",
};

/** Every child started here and not yet stopped, so that an interrupted run can stop them all. */
const children = new Set<ChildProcess>();

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...children].map((child) => stopChild(child)));
}

/** The log level both registries run at, so that logging is not what is measured. */
export const LOG_LEVEL = 'warn';

export interface LaunchedServer {
  target: Target;
  /** Milliseconds from spawn to the first 200 answer to GET /v2/. */
  readyMs: number;
  /** The config the server runs with (registries only), for its offline commands (gc). */
  configFile?: string;
  stop(): Promise<void>;
}

/** The server exited before answering: `code` 2 is stowage refusing its config. */
export class ExitedEarly extends Error {
  override name = 'ExitedEarly';
  constructor(
    message: string,
    readonly code: number | null,
    readonly logFile: string,
  ) {
    super(message);
  }
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((ok, fail) => server.listen(0, '127.0.0.1', ok).once('error', fail));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((ok) => server.close(() => ok()));
  return port;
}

/** The environment the servers see: no REGISTRY_* overrides leaking in from the caller's shell. */
function cleanEnvironment(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', LANG: 'C.UTF-8' };
}

/**
 * The two configs (JSON is valid YAML for both parsers). Equivalent where both have the setting:
 * filesystem storage, deletes on, upload purging off, warn-level logs, no access log. The
 * reference keeps the in-memory blob descriptor cache that its packaged config.yml enables.
 */
function registryConfig(kind: RegistryKind, port: number, dataDir: string, setup: RegistrySetup): string {
  const common = {
    log: { level: LOG_LEVEL, accesslog: { disabled: true } },
    http: { addr: `127.0.0.1:${port}` },
    // Distribution's pull-through cache section, which both read the same way.
    ...(setup.proxyUrl ? { proxy: { remoteurl: setup.proxyUrl } } : {}),
  };
  const storage = {
    ...(setup.s3 ? { s3: setup.s3 } : { filesystem: { rootdirectory: dataDir, ...(setup.fsync === false ? { fsync: false } : {}) } }),
    delete: { enabled: true },
    maintenance: { uploadpurging: { enabled: false } },
  };
  if (kind === 'stowage')
    return JSON.stringify({ ...common, storage, ...(setup.database ? { stowage: { database: { url: setup.database } } } : {}) }, null, 2);
  if (setup.database) throw new Error('the reference has no metadata database');
  if (setup.s3) throw new Error("the reference's S3 driver does not work against s3rver (it needs ListMultipartUploads)");
  return JSON.stringify({ version: 0.1, ...common, storage: { ...storage, cache: { blobdescriptor: 'inmemory' } } }, null, 2);
}

/** storage.s3 as both config files spell it. */
export interface S3Storage {
  regionendpoint: string;
  region: string;
  bucket: string;
  accesskey: string;
  secretkey: string;
  rootdirectory: string;
  forcepathstyle: boolean;
  chunksize: number;
}

/** How to run a registry beyond its kind: which stowage build, S3 instead of the filesystem, proxy mode. */
export interface RegistrySetup {
  /** The target's name in the results (default: the kind). */
  name?: string;
  /** The stowage build to run (default STOWAGE_ENTRY). */
  stowageCli?: string;
  /** Sockets of the target's keep-alive agent (default 64). */
  maxSockets?: number;
  /** Distribution's `proxy: { remoteurl }`: the registry becomes a pull-through cache of this upstream. */
  proxyUrl?: string;
  /** storage.s3 instead of a filesystem directory. */
  s3?: S3Storage;
  /** false: stowage's storage.filesystem.fsync: false (--fsync-cost). */
  fsync?: boolean;
  /** The storage server's process (s3rver), for CPU accounting. */
  storagePid?: number;
  /** stowage.database.url (`sqlite:PATH` or `postgres://...`); builds before the database refuse it. */
  database?: string;
  /** How stowage is started: `node <stowageCli> serve` (the package's bin), or `npm start` in the checkout. */
  launcher?: 'node' | 'npm';
}

/** Spawns a tracked child with a clean environment, its output appended to `logFile`. */
export function spawnLogged(
  command: string,
  args: string[],
  logFile: string,
  options: { uid?: number; gid?: number; cwd?: string } = {},
): ChildProcess {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(command, args, { stdio: ['ignore', fd, fd], env: cleanEnvironment(), ...options });
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  } finally {
    closeSync(fd);
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((ok) => child.once('exit', () => ok()));
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const done = await Promise.race([exited(child).then(() => true), sleep(10_000).then(() => false)]);
  if (!done) {
    child.kill('SIGKILL');
    await exited(child);
  }
}

function probe(port: number, path: string): Promise<number> {
  return new Promise((ok) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => ok(res.statusCode ?? 0));
    });
    req.on('error', () => ok(0));
    req.on('timeout', () => req.destroy());
  });
}

/** Polls GET `path` every 2 ms until it answers 200; bounded by `limitMs` and by the child exiting. */
async function waitForOk(child: ChildProcess, port: number, path: string, logFile: string, limitMs = 30_000): Promise<void> {
  const deadline = performance.now() + limitMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new ExitedEarly(`server exited (${child.exitCode ?? child.signalCode}) before answering; see ${logFile}`, child.exitCode, logFile);
    if ((await probe(port, path)) === 200) return;
    await sleep(2);
  }
  throw new Error(`server did not answer GET ${path} with 200 within ${limitMs / 1000} s; see ${logFile}`);
}

/** Starts one registry on a free port with a fresh data directory under `workDir/<id>`. */
export async function launchRegistry(kind: RegistryKind, workDir: string, id: string, setup: RegistrySetup = {}): Promise<LaunchedServer> {
  const { stowageCli = STOWAGE_ENTRY, maxSockets = 64, name = kind } = setup;
  const dir = join(workDir, id);
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const port = await freePort();
  const configFile = join(dir, 'config.yml');
  writeFileSync(configFile, registryConfig(kind, port, dataDir, setup));
  const logFile = join(dir, 'server.log');
  const started = performance.now();
  const child =
    kind === 'reference'
      ? spawnLogged(REFERENCE_BINARY, ['serve', configFile], logFile)
      : setup.launcher === 'npm'
        ? spawnLogged('npm', ['start', '--silent', '--', '--config', configFile], logFile, { cwd: REPO_ROOT })
        : spawnLogged(process.execPath, [stowageCli, 'serve', '--config', configFile], logFile);
  try {
    await waitForOk(child, port, '/v2/', logFile);
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  const readyMs = performance.now() - started;
  const agent = keepAliveAgent(maxSockets);
  return {
    target: {
      name,
      label: LABELS[name] ?? name,
      base: new URL(`http://127.0.0.1:${port}`),
      agent,
      pid: child.pid ?? 0,
      storagePid: setup.storagePid,
    },
    readyMs,
    configFile,
    stop: async () => {
      agent.destroy();
      await stopChild(child);
    },
  };
}

export interface CommandRun {
  code: number | null;
  ms: number;
  /** The last 64 KiB of standard output (the reference's garbage-collect prints a line per blob). */
  stdout: string;
  /** The process's peak RSS (VmHWM), as last read before it exited (polled every 10 ms). */
  peakRssBytes: number;
}

/** Runs a command to its end (killed past `limitMs`), standard error appended to `logFile`. */
export async function runCommand(command: string, args: string[], logFile: string, limitMs: number): Promise<CommandRun> {
  const fd = openSync(logFile, 'a');
  const started = performance.now();
  let child: ChildProcess;
  try {
    child = spawn(command, args, { stdio: ['ignore', 'pipe', fd], env: cleanEnvironment() });
  } finally {
    closeSync(fd);
  }
  children.add(child);
  // The kernel's high-water mark, polled: its last reading before the exit is the peak (a short
  // command can end between two samples of the current RSS).
  let peakRssBytes = 0;
  const pollPeak = () => {
    try {
      peakRssBytes = Math.max(peakRssBytes, peakRssOf(child.pid ?? 0));
    } catch {
      // exited
    }
  };
  pollPeak();
  const poller = setInterval(pollPeak, 10);
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout = (stdout + chunk.toString('utf8')).slice(-64 * 1024);
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  const code = await new Promise<number | null>((ok, fail) => {
    child.once('error', fail);
    child.once('close', (exitCode) => ok(exitCode));
  }).finally(() => {
    clearTimeout(killer);
    clearInterval(poller);
    children.delete(child);
  });
  const ms = performance.now() - started;
  if (ms >= limitMs) throw new Error(`${command} ${args.join(' ')} killed after ${Math.round(limitMs / 1000)} s`);
  return { code, ms, stdout, peakRssBytes };
}

/** Node's own floor for start-up: a bare http server answering 200, started like stowage. */
export async function launchNodeFloor(workDir: string, id: string): Promise<LaunchedServer> {
  const port = await freePort();
  const logFile = join(workDir, `${id}.log`);
  const started = performance.now();
  const script = `require('node:http').createServer((q, s) => s.end('{}')).listen(${port}, '127.0.0.1')`;
  const child = spawnLogged(process.execPath, ['-e', script], logFile);
  await waitForOk(child, port, '/v2/', logFile);
  return {
    target: {
      name: 'node-floor',
      label: LABELS['node-floor'],
      base: new URL(`http://127.0.0.1:${port}`),
      agent: keepAliveAgent(1),
      pid: child.pid ?? 0,
    },
    readyMs: performance.now() - started,
    stop: () => stopChild(child),
  };
}

/**
 * The framework ceiling: a bare Node http server answering every GET/HEAD with the given
 * manifest bytes from memory, with the headers a registry sends (ceiling-server.ts).
 */
export async function launchBareHttp(workDir: string, manifestFile: string, mediaType: string, digest: string): Promise<LaunchedServer> {
  const port = await freePort();
  const logFile = join(workDir, 'node-http.log');
  const started = performance.now();
  const child = spawnLogged(process.execPath, [CEILING_SERVER, 'http', String(port), manifestFile, mediaType, digest], logFile);
  await waitForOk(child, port, '/v2/', logFile);
  const agent = keepAliveAgent(64);
  return {
    target: { name: 'node-http', label: LABELS['node-http'], base: new URL(`http://127.0.0.1:${port}`), agent, pid: child.pid ?? 0 },
    readyMs: performance.now() - started,
    stop: async () => {
      agent.destroy();
      await stopChild(child);
    },
  };
}

/** The loopback ceiling's source: a TCP server that writes `size` bytes to each connection. */
export async function launchTcpSource(workDir: string, size: number): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const logFile = join(workDir, 'tcp-source.log');
  const child = spawnLogged(process.execPath, [CEILING_SERVER, 'tcp', String(port), String(size)], logFile);
  const deadline = performance.now() + 10_000;
  for (;;) {
    const connected = await new Promise<boolean>((ok) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        ok(true);
      });
      socket.on('error', () => ok(false));
    });
    if (connected) break;
    if (performance.now() > deadline || child.exitCode !== null) {
      await stopChild(child);
      throw new Error(`loopback source did not start; see ${logFile}`);
    }
    await sleep(5);
  }
  return { port, stop: () => stopChild(child) };
}

/** An S3 server for stowage: s3rver, with the tests' fixes, as a child process with its own directory. */
export interface LaunchedS3rver {
  endpoint: string;
  port: number;
  bucket: string;
  pid: number;
  stop(): Promise<void>;
}

export const S3RVER_BUCKET = 'stowage';
/** s3rver's built-in account. */
export const S3RVER_KEY = 'S3RVER';

export async function launchS3rver(workDir: string, id = 's3rver'): Promise<LaunchedS3rver> {
  const dir = join(workDir, id);
  mkdirSync(join(dir, 'data'), { recursive: true });
  const port = await freePort();
  const logFile = join(dir, 'server.log');
  const fixes = join(REPO_ROOT, 'test/helpers/s3rver-fixes.cjs');
  const child = spawnLogged(process.execPath, [S3RVER_SERVER, String(port), join(dir, 'data'), S3RVER_BUCKET, fixes], logFile);
  // s3rver answers GET / (ListBuckets) once it listens; unsigned, that is a 403.
  const deadline = performance.now() + 30_000;
  while ((await probe(port, '/')) === 0) {
    if (child.exitCode !== null || child.signalCode !== null || performance.now() > deadline) {
      await stopChild(child);
      throw new Error(`s3rver did not start; see ${logFile}`);
    }
    await sleep(5);
  }
  return { endpoint: `http://127.0.0.1:${port}`, port, bucket: S3RVER_BUCKET, pid: child.pid ?? 0, stop: () => stopChild(child) };
}
