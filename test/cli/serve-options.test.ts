// `stowage serve` as a new user tries it: --addr/--port/--data and PORT, --version, the
// REGISTRY_* overrides in --help, one plain start-up line (URL and data directory), and start-up
// failures that name the setting to change (a port in use, a data directory it may not write, a
// misspelt config key).
import { spawn, spawnSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE, bundleStowage, exited, freePort, kill } from '../helpers/stowage-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { PACKAGE } from '../../server/version.js';
import { configFrom, loadConfig, nearestKey } from '../../server/config.js';
import { explainStartupError, servedUrl } from '../../server/startup-report.js';

function stowage(args: string[], env: Record<string, string> = {}, options: { uid?: number; gid?: number; cwd?: string } = {}) {
  const child = spawn(process.execPath, [BUNDLE, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
  child.stdout!.resume();
  return { child, stderr: () => stderr };
}

/** Waits for the plain start-up line (or the exit, which fails the wait). */
async function startedLine(run: ReturnType<typeof stowage>): Promise<string> {
  const exit = exited(run.child).then((code) => {
    throw new Error(`exited ${code}: ${run.stderr()}`);
  });
  const line = (async () => {
    for (;;) {
      const found = /^stowage \S+ serving .*$/m.exec(run.stderr());
      if (found) return found[0];
      await new Promise((resolve) => run.child.stderr!.once('data', resolve));
    }
  })();
  return Promise.race([line, exit]);
}

describe('stowage serve options', () => {
  beforeAll(() => bundleStowage(), 60_000);

  it('prints its version and lists the REGISTRY_* overrides in serve --help', () => {
    const version = spawnSync(process.execPath, [BUNDLE, '--version'], { encoding: 'utf8' });
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toBe(PACKAGE.version);
    const help = spawnSync(process.execPath, [BUNDLE, 'serve', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    for (const text of [
      '--port <port>',
      '--addr <host:port>',
      '--data <dir>',
      'REGISTRY_HTTP_ADDR',
      'REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY',
      'PORT=',
    ]) {
      expect(help.stdout).toContain(text);
    }
  });

  it('serves on --port with the data in --data, and says so once, plainly', async () => {
    const dir = await tempDir('stowage-serve-options-');
    const port = await freePort();
    const data = path.join(dir, 'registry-data');
    const run = stowage(['serve', '--port', String(port), '--data', data], {}, { cwd: dir });
    try {
      expect(await startedLine(run)).toBe(`stowage ${PACKAGE.version} serving http://localhost:${port} (data: ${data})`);
      expect((await fetch(`http://127.0.0.1:${port}/v2/`)).status).toBe(200);
      expect((await fsp.stat(data)).isDirectory()).toBe(true);
      await expect(fsp.stat(path.join(dir, 'data'))).rejects.toMatchObject({ code: 'ENOENT' });
      expect(run.stderr().match(/serving/g)).toHaveLength(1);
    } finally {
      await kill(run.child);
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('takes --addr, and PORT when nothing else sets the address', async () => {
    const dir = await tempDir('stowage-serve-port-');
    const [a, b] = [await freePort(), await freePort()];
    const byAddr = stowage(['serve', '--addr', `127.0.0.1:${a}`, '--data', path.join(dir, 'a')]);
    const byEnv = stowage(['serve', '--data', path.join(dir, 'b')], { PORT: String(b) });
    try {
      expect(await startedLine(byAddr)).toContain(`serving http://127.0.0.1:${a} `);
      expect(await startedLine(byEnv)).toContain(`serving http://localhost:${b} `);
    } finally {
      await kill(byAddr.child);
      await kill(byEnv.child);
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('names http.addr and how to move when the port is taken', async () => {
    const dir = await tempDir('stowage-serve-inuse-');
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    const run = stowage(['serve', '--addr', `127.0.0.1:${port}`, '--data', dir]);
    try {
      expect(await exited(run.child)).toBe(1);
      expect(run.stderr()).toBe(
        `stowage: cannot start: http.addr 127.0.0.1:${port}: another process already listens there. Stop it, or listen elsewhere (stowage serve --port 5001, or REGISTRY_HTTP_ADDR=:5001).\n`,
      );
    } finally {
      taken.close();
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('names the data directory, the uid and the fix when it may not write there', async () => {
    const dir = await tempDir('stowage-serve-eacces-');
    const locked = path.join(dir, 'locked');
    await fsp.mkdir(locked, { mode: 0o555 });
    await fsp.chmod(dir, 0o755);
    // Root writes anywhere: run as nobody then (CI runs as root); otherwise as ourselves.
    const asRoot = process.getuid!() === 0;
    const user = asRoot ? { uid: 65534, gid: 65534, cwd: '/' } : { cwd: dir };
    const data = path.join(locked, 'data');
    const run = stowage(['serve', '--port', '0', '--data', data], {}, user);
    try {
      expect(await exited(run.child)).toBe(1);
      const uid = asRoot ? 65534 : process.getuid!();
      expect(run.stderr()).toContain(`stowage: cannot start: storage.filesystem.rootdirectory (${data}): uid ${uid} `);
      expect(run.stderr()).toContain(`may not write ${data}`);
      expect(run.stderr()).toContain(`mkdir -p ${data} && chown -R ${uid} ${data}`);
      expect(run.stderr()).toContain('--data');
      expect(run.stderr()).not.toContain('EACCES');
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('suggests the key a misspelt one meant, and exits 2', async () => {
    const dir = await tempDir('stowage-serve-typo-');
    const config = path.join(dir, 'config.yml');
    await fsp.writeFile(config, 'http: { adr: ":5000" }\nstorage: { delete: { enabeld: true } }\n');
    const res = spawnSync(process.execPath, [BUNDLE, 'serve', '--config', config], { encoding: 'utf8' });
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('unknown key http.adr; did you mean http.addr?');
    expect(res.stderr).toContain('unknown key storage.delete.enabeld; did you mean storage.delete.enabled?');
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('refuses a port that is not one, an address that is not host:port, and --addr with --port, creating nothing', async () => {
    const dir = await tempDir('stowage-serve-bad-');
    const data = path.join(dir, 'data');
    for (const [args, message] of [
      [['--port', 'eighty'], "option '-p, --port <port>' argument 'eighty' is invalid"],
      [['--port', '70000'], "option '-p, --port <port>' argument '70000' is invalid"],
      [['--addr', 'localhost'], 'http.addr "localhost" is not host:port'],
      [['--addr', ':5000', '--port', '5001'], '--addr and --port both set the listening address'],
    ] as const) {
      const res = spawnSync(process.execPath, [BUNDLE, 'serve', ...args, '--data', data], { encoding: 'utf8', cwd: dir });
      expect(res.status, args.join(' ')).not.toBe(0);
      expect(res.stderr, args.join(' ')).toContain(message);
    }
    await expect(fsp.stat(data)).rejects.toMatchObject({ code: 'ENOENT' });
    await fsp.rm(dir, { recursive: true, force: true });
  });
});

describe('command-line settings and their words', () => {
  it('puts --addr, --port, --data and PORT over the file and the environment, in that order', () => {
    const env = { REGISTRY_HTTP_ADDR: '10.0.0.1:6000' };
    expect(loadConfig(undefined, env, { port: 7000 }).config.http.addr).toBe('10.0.0.1:7000');
    expect(loadConfig(undefined, env, { addr: ':7001' }).config.http.addr).toBe(':7001');
    expect(loadConfig(undefined, { ...env, PORT: '7002' }).config.http.addr).toBe('10.0.0.1:6000');
    expect(loadConfig(undefined, { PORT: '7002' }).config.http.addr).toBe(':7002');
    expect(loadConfig(undefined, { REGISTRY_HTTP_ADDR: '[::1]:6000' }, { port: 7003 }).config.http.addr).toBe('[::1]:7003');
    expect(loadConfig(undefined, {}, { data: '/srv/x' }).config.storage.filesystem?.rootdirectory).toBe('/srv/x');
    expect(() => loadConfig(undefined, {}, { addr: ':1', port: 2 })).toThrow(/--addr and --port/);
    expect(() => loadConfig(undefined, { PORT: 'eighty' })).toThrow(/PORT=eighty is not a port/);
    expect(() => loadConfig(undefined, { REGISTRY_STORAGE_S3_BUCKET: 'b' }, { data: '/x' })).toThrow(/storage.s3/);
  });

  it('finds the nearest key only when it is near', () => {
    const known = ['addr', 'host', 'prefix', 'tls', 'debug'];
    expect(nearestKey('adr', known)).toBe('addr');
    expect(nearestKey('Addr', known)).toBe('addr');
    expect(nearestKey('prefxi', known)).toBe('prefix');
    expect(nearestKey('zzz', known) ?? 'none').toBe('none');
    expect(nearestKey('tlsx', known)).toBe('tls');
    expect(nearestKey('ab', known) ?? 'none').toBe('none');
  });

  it('words listen errors by the key they come from', () => {
    const config = configFrom({ http: { addr: ':5000', debug: { addr: ':5001' } } });
    const error = (code: string, port: number) => Object.assign(new Error(code), { code, syscall: 'listen', address: '::', port });
    expect(explainStartupError(error('EADDRINUSE', 5001), config)).toMatch(/^http\.debug\.addr :: ?:5001: another process/);
    expect(explainStartupError(error('EACCES', 80), configFrom({ http: { addr: ':80' } }))).toMatch(/^http\.addr ::?:80: ports below 1024 need root/);
    expect(explainStartupError(new Error('something else'), config)).toBe('something else');
    expect(servedUrl(configFrom({ http: { addr: '0.0.0.0:5000' } }), 5000, true)).toBe('https://localhost:5000');
    expect(servedUrl(configFrom({ http: { addr: '[::1]:5000' } }), 5000, false)).toBe('http://[::1]:5000');
  });
});
