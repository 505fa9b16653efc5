// The real stowage process for the crash tests: the CLI bundled as production bundles it (beside
// node_modules, so the packages it leaves out resolve as in the real one), spawned with a config
// file, waited for, and killed with SIGKILL.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { build } from 'esbuild';

const REPO = path.resolve(import.meta.dirname, '../..');
/** The bundled CLI bundleStowage() writes, for tests that run commands. */
export const BUNDLE = path.join(REPO, 'node_modules/.cache/stowage-test/stowage.mjs');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Bundles server/cli.ts (each test file once, in beforeAll). */
export async function bundleStowage(): Promise<void> {
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
}

export interface Installation {
  dir: string;
  config: string;
  port: number;
  url: string;
  /** The last lines the processes wrote to stderr, for failure messages. */
  stderr: string[];
  /** Starts `stowage <args> --config <config>` with extra environment variables. */
  run(args: string[], env?: Record<string, string>): ChildProcess;
  /** Runs `stowage <args> --config <config>` to its end (a command beside the server). */
  command(...args: string[]): { status: number | null; stdout: string; stderr: string };
  /** Waits until the server answers GET /v2/ (or exits, which throws). */
  ready(child: ChildProcess): Promise<void>;
  remove(): Promise<void>;
}

/** A data directory and a config serving it on a free port; configLines go under the basics. */
export async function makeInstallation(prefix: string, configLines: string[] = []): Promise<Installation> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  const port = await freePort();
  const config = path.join(dir, 'config.yml');
  await fsp.writeFile(
    config,
    [
      'version: 0.1',
      'log: { level: error, accesslog: { disabled: true } }',
      `http: { addr: "127.0.0.1:${port}" }`,
      `storage: { filesystem: { rootdirectory: "${path.join(dir, 'data')}" }, delete: { enabled: true } }`,
      ...configLines,
      '',
    ].join('\n'),
  );
  const stderr: string[] = [];
  return {
    dir,
    config,
    port,
    url: `http://127.0.0.1:${port}`,
    stderr,
    run(args, env = {}) {
      const child = spawn(process.execPath, [BUNDLE, ...args, '--config', config], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, ...env },
      });
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr.push(`${args[0]}: ${chunk.toString().trim()}`);
        if (stderr.length > 20) stderr.shift();
      });
      return child;
    },
    command(...args) {
      const res = spawnSync(process.execPath, [BUNDLE, ...args, '--config', config], { encoding: 'utf8' });
      return { status: res.status, stdout: res.stdout, stderr: res.stderr };
    },
    async ready(child) {
      const deadline = Date.now() + 20_000;
      for (;;) {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`the server exited (${child.exitCode ?? child.signalCode}): ${stderr.join('\n')}`);
        const ok = await fetch(`http://127.0.0.1:${port}/v2/`).then(
          (res) => res.status === 200,
          () => false,
        );
        if (ok) return;
        if (Date.now() > deadline) throw new Error('the server did not answer within 20 s');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    remove: () => fsp.rm(dir, { recursive: true, force: true }),
  };
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export async function kill(child: ChildProcess): Promise<void> {
  child.kill('SIGKILL');
  await exited(child);
}
