// Garbage collection and the server killed at random points (SIGKILL), with real processes: the
// server (`stowage serve`, collecting every second with no grace, deleting untagged manifests)
// takes pushes from four clients while `stowage gc` runs beside it in a loop and is killed
// part way through most runs; every few seconds the server itself is killed and restarted.
// Afterwards, with a clean restart and one more collection, every tag last answered 201 points
// at what it was set to, and everything it reaches pulls and re-hashes (storage/liveness.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { build } from 'esbuild';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pusher, prng, verify, type Expected } from '../helpers/pusher.js';
import type { Blob } from '../helpers/content.js';

const SECONDS = Number(process.env.STOWAGE_CRASH_SECONDS ?? 25);
const REPO = path.resolve(import.meta.dirname, '../..');
// Beside node_modules, so the bundle resolves the packages it leaves out as the real one does.
const BUNDLE = path.join(REPO, 'node_modules/.cache/stowage-test/stowage.mjs');

let dir: string;
let config: string;
let port: number;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = server.address() as net.AddressInfo;
      server.close(() => resolve(p));
    });
    server.on('error', reject);
  });
}

/** The last lines the processes wrote to stderr, for the failure message. */
const stderr: string[] = [];

function stowage(args: string[]): ChildProcess {
  const child = spawn(process.execPath, [BUNDLE, ...args, '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr.push(`${args[0]}: ${chunk.toString().trim()}`);
    if (stderr.length > 20) stderr.shift();
  });
  return child;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function ready(child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}: ${stderr.join('\n')}`);
    const ok = await fetch(`http://127.0.0.1:${port}/v2/`).then(
      (res) => res.status === 200,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error('the server did not answer within 20 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function kill(child: ChildProcess): Promise<void> {
  child.kill('SIGKILL');
  await exited(child);
}

beforeAll(async () => {
  await build({
    entryPoints: [path.join(REPO, 'server/cli.ts')],
    outfile: BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    banner: { js: "import { createRequire as __stowageRequire } from 'node:module'; const require = __stowageRequire(import.meta.url);" },
  });
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'stowage-crash-'));
  port = await freePort();
  config = path.join(dir, 'config.yml');
  await fsp.writeFile(
    config,
    [
      'version: 0.1',
      'log: { level: error, accesslog: { disabled: true } }',
      `http: { addr: "127.0.0.1:${port}" }`,
      `storage: { filesystem: { rootdirectory: "${path.join(dir, 'data')}" }, delete: { enabled: true } }`,
      'stowage: { gc: { interval: 1s, grace: 0s, deleteuntagged: true } }',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  if (dir) await fsp.rm(dir, { recursive: true, force: true });
});

describe('garbage collection and the server killed at random points', () => {
  it(`loses nothing acknowledged over ${SECONDS} s of kills and restarts`, { timeout: (SECONDS + 210) * 1000 }, async () => {
    const seed = Number(process.env.STOWAGE_CRASH_SEED ?? Date.now() % 100_000);
    const random = prng(seed);
    const expected: Expected = { tags: new Map(), acknowledged: 0, failed: new Map() };
    const shared: Array<{ name: string; blob: Blob }> = [];
    const agent = supertest(`http://127.0.0.1:${port}`);
    const counts = { serverKills: 0, gcRuns: 0, gcKills: 0, gcFinished: 0, gcBusy: 0 };
    // At least SECONDS, and on until each kind of event has happened a few times (a loaded
    // machine starts processes slowly), but never past the hard stop.
    const until = Date.now() + SECONDS * 1000;
    const hardStop = until + 90_000;
    const enough = () => counts.serverKills >= 2 && counts.gcKills >= 2 && counts.gcFinished >= 1;
    const going = () => Date.now() < hardStop && (Date.now() < until || !enough());

    let server = stowage(['serve']);
    await ready(server);
    const pushers = Array.from({ length: 4 }, (_, i) => new Pusher(() => agent, i, prng(seed * 31 + i), expected, shared));
    const pushing = pushers.map(async (p) => {
      while (going()) {
        await p.step();
        // While the server is down, wait for it rather than spin on refused connections.
        if (server.exitCode !== null || server.signalCode !== null) await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
    const collecting = (async () => {
      while (going()) {
        const gc = stowage(['gc', '--grace', '0s', ...(random() < 0.5 ? ['--delete-untagged'] : [])]);
        counts.gcRuns++;
        // Most runs are killed part way; until one has finished, every third is left alone.
        const spare = counts.gcFinished === 0 ? counts.gcRuns % 3 === 0 : random() >= 0.7;
        const killAfter = spare ? undefined : Math.floor(random() * 400);
        const timer = killAfter === undefined ? undefined : setTimeout(() => gc.kill('SIGKILL'), killAfter);
        const code = await exited(gc);
        clearTimeout(timer);
        if (gc.signalCode === 'SIGKILL') counts.gcKills++;
        else if (code === 0) counts.gcFinished++;
        else if (code === 75) counts.gcBusy++;
        else throw new Error(`stowage gc exited with ${code}: ${stderr.join('\n')}`);
      }
    })();
    const crashing = (async () => {
      while (going()) {
        await new Promise((resolve) => setTimeout(resolve, 1500 + Math.floor(random() * 2500)));
        await kill(server);
        counts.serverKills++;
        server = stowage(['serve']);
        await ready(server);
      }
    })();
    await Promise.all([...pushing, collecting, crashing]);

    // A clean restart (which puts back what killed runs left aside), one whole collection, then
    // everything acknowledged must pull.
    await kill(server);
    server = stowage(['serve']);
    await ready(server);
    const last = stowage(['gc', '--grace', '0s', '--delete-untagged']);
    expect(await exited(last)).toBe(0);
    const problems = await verify(agent, expected);
    await kill(server);

    const summary = {
      seed,
      acknowledged: expected.acknowledged,
      tagsChecked: expected.tags.size,
      ...counts,
      failedPushes: Object.fromEntries(expected.failed),
    };
    expect(problems, JSON.stringify(summary)).toEqual([]);
    expect(expected.acknowledged, JSON.stringify(summary)).toBeGreaterThan(20);
    expect(enough(), JSON.stringify(summary)).toBe(true);
    console.log(`gc crash loop: ${JSON.stringify(summary)}`);
  });
});
