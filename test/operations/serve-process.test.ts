// The registry as a real process, run the documented ways (`stowage serve`, `npm start`), told
// to stop by signals: it must exit, even when its stdout is a pipe nobody reads any more, when a
// second signal says not to wait for transfers, and when npm is the process that gets SIGTERM.
// The process runs a bundle of the current sources (scripts/bundle.mjs from server/cli.ts), so
// no stale dist/ is tested.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fsp from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { bundle } from '../../scripts/bundle.mjs';
import { randomBlob } from '../helpers/content.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** Generous for a loaded 2-core machine; a process that does not stop never gets there. */
const EXIT_MS = 10_000;

let dir: string;
let bundlePath: string;
const started: ChildProcess[] = [];

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'stowage-process-'));
  bundlePath = path.join(dir, 'dist/stowage.mjs');
  // As in a checkout or the container, node_modules sits beside dist/: the bundle loads the
  // native SQLite addon (and pg) from there at run time.
  await fsp.symlink(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  await (bundle as (o: { entryPoints: string[]; outfile: string }) => Promise<unknown>)({
    entryPoints: [path.join(REPO, 'server/cli.ts')],
    outfile: bundlePath,
  });
});

afterEach(() => {
  // Whatever a failed test left running: each was started in a process group of its own.
  for (const child of started.splice(0)) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

function registryEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    REGISTRY_HTTP_ADDR: '127.0.0.1:0',
    REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: path.join(dir, `data-${started.length}`),
    npm_config_update_notifier: 'false',
    // The bundle leaves the database drivers out (native better-sqlite3, pg: loaded at run time,
    // storage/metadata/database.ts); dist/stowage.mjs finds them in the node_modules beside it,
    // a bundle in a temporary directory here.
    NODE_PATH: path.join(REPO, 'node_modules'),
    ...extra,
  };
}

/** Starts command in a new process group (so the test can tell when all of it is gone). */
function launch(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  const child = spawn(command, args, {
    cwd: options.cwd ?? dir,
    env: options.env ?? registryEnv(),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  child.stderr!.resume();
  return child;
}

/** Reads stdout until the 'listening' log line and returns the port it names; stdout is then paused. */
function listeningPort(child: ChildProcess): Promise<number> {
  const stdout = child.stdout!;
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      for (const line of seen.split('\n')) {
        const entry = line.startsWith('{') ? (JSON.parse(line) as { msg?: string; port?: number }) : {};
        if (entry.msg === 'listening' && entry.port) {
          stdout.off('data', onData);
          stdout.off('end', onEnd);
          stdout.pause();
          resolve(entry.port);
          return;
        }
      }
    };
    const onEnd = () => reject(new Error(`the registry never said it was listening: ${seen}`));
    stdout.on('data', onData);
    stdout.once('end', onEnd);
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function until(condition: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return condition();
}

/** Whether any process of the group is still alive. */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

function exited(child: ChildProcess, ms: number): Promise<number | null | 'still running'> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return Promise.race([
    once(child, 'exit').then(([code]) => code as number | null),
    new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), ms).unref()),
  ]);
}

function text(port: number, urlPath: string, agent: http.Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString()));
      })
      .on('error', reject);
  });
}

function get(port: number, urlPath: string, agent: http.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

describe('the registry process', () => {
  it('exits on SIGTERM when nobody reads its stdout any more', async () => {
    const child = launch(process.execPath, [bundlePath, 'serve']);
    const port = await listeningPort(child);
    // Nobody reads stdout from here on: log far more than a pipe holds (one access line per request).
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const longName = `team/${'a'.repeat(1500)}`;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let i = 0; i < 150; i++) await get(port, `/v2/${longName}/tags/list`, agent);
      }),
    );
    agent.destroy();

    child.kill('SIGTERM');
    expect(await until(async () => !(await accepts(port)), EXIT_MS), 'the port closes').toBe(true);
    // The reader goes away for good, as `| head -1` does.
    child.stdout!.destroy();
    expect(await exited(child, EXIT_MS)).toBe(0);
  });

  it('writes its last log line ("stopped") before it exits on SIGTERM', async () => {
    const child = launch(process.execPath, [bundlePath, 'serve']);
    await listeningPort(child);
    const lines: string[] = [];
    let rest = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      const parts = (rest + chunk.toString('utf8')).split('\n');
      rest = parts.pop()!;
      lines.push(...parts);
    });
    child.stdout!.resume();
    child.kill('SIGTERM');
    expect(await exited(child, EXIT_MS)).toBe(0);
    await until(() => child.stdout!.readableEnded, EXIT_MS);
    const messages = lines.map((line) => (JSON.parse(line) as { msg?: string }).msg);
    expect(messages.slice(-2)).toEqual(['shutting down', 'stopped']);
  });

  it('exits at once on a second SIGTERM while a transfer keeps the drain waiting', async () => {
    const child = launch(process.execPath, [bundlePath, 'serve'], { env: registryEnv({ REGISTRY_HTTP_DRAINTIMEOUT: '120s' }) });
    const port = await listeningPort(child);
    child.stdout!.resume();
    const location = await new Promise<string>((resolve, reject) => {
      http
        .request({ host: '127.0.0.1', port, method: 'POST', path: '/v2/team/app/blobs/uploads/', agent: false }, (res) => {
          res.resume();
          resolve(String(res.headers.location));
        })
        .on('error', reject)
        .end();
    });
    const chunk = randomBlob(64 * 1024, 71);
    const held = http.request({
      host: '127.0.0.1',
      port,
      method: 'PATCH',
      path: location,
      agent: false,
      headers: { 'Content-Length': String(chunk.size) },
    });
    held.on('error', () => {});
    held.write(chunk.bytes.subarray(0, 1024));
    const agent = new http.Agent();
    const inFlight = () => text(port, '/metrics', agent).then((metrics) => /^stowage_uploads_in_flight 1$/m.test(metrics));
    expect(await until(inFlight, EXIT_MS), 'the upload is in flight').toBe(true);
    agent.destroy();

    child.kill('SIGTERM');
    expect(await until(async () => !(await accepts(port)), EXIT_MS), 'the port closes').toBe(true);
    // The upload in flight holds the drain: the process waits for it.
    expect(await exited(child, 300)).toBe('still running');
    child.kill('SIGTERM');
    expect(await exited(child, EXIT_MS)).toBe(128 + os.constants.signals.SIGTERM);
    held.destroy();
  });

  it('stops, with nothing left running, when `npm start` gets SIGTERM', async () => {
    // A package of its own with the real start script, over the bundle of the current sources.
    const pkg = JSON.parse(await fsp.readFile(path.join(REPO, 'package.json'), 'utf8')) as { scripts: { start: string } };
    await fsp.writeFile(
      path.join(dir, 'package.json'),
      JSON.stringify({ name: 'stowage-start', private: true, scripts: { start: pkg.scripts.start } }),
    );
    const npm = launch('npm', ['start', '--silent']);
    const port = await listeningPort(npm);
    npm.stdout!.resume();

    npm.kill('SIGTERM');
    expect(await until(() => !groupAlive(npm.pid!), EXIT_MS), 'npm and the server it started have exited').toBe(true);
    expect(await accepts(port)).toBe(false);
  });
});
