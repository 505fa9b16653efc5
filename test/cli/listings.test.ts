// `stowage ls`, `du` and `tags` read a running registry's JSON API: tables for people, --json for
// scripts, every page followed, Basic credentials or Docker's token flow, the registry's error
// code on failure. The last tests run the real command (a bundle of server/cli.ts) as a process.
import { execFile } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bundle } from '../../scripts/bundle.mjs';
import { ApiClient, ApiError } from '../../server/commands/api-client.js';
import { diskUsageCommand, formatBytes, listCommand, tagsCommand, type ApiRepository } from '../../server/commands/listings.js';
import { basic } from '../helpers/credentials.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { pushImage, tryPushImage } from '../helpers/images.js';
import { startTestRegistry, useTestRegistry, type TestRegistry } from '../helpers/test-registry.js';

async function run(command: (print: (line: string) => void) => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  await command((line) => lines.push(line));
  return lines;
}

describe('stowage ls, du and tags', () => {
  const registry = useTestRegistry(filesystemDriverFactory);
  const client = () => new ApiClient({ url: registry().url });

  async function fill(reg: TestRegistry) {
    const app = await pushImage(reg, 'team/app', 'v1', { seed: 1 });
    await pushImage(reg, 'team/app', 'v2', { seed: 2 });
    await pushImage(reg, 'team/web', 'latest', { seed: 3 });
    await pushImage(reg, 'tools', 'latest', { seed: 4 });
    return app;
  }

  it('ls prints a table of repositories, those under a prefix, or JSON', async () => {
    await fill(registry());
    const table = await run((print) => listCommand(client(), undefined, false, print));
    expect(table[0]).toMatch(/^REPOSITORY\s+TAGS\s+MANIFESTS\s+SIZE\s+LAST PUSH$/);
    expect(table.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['team/app', 'team/web', 'tools']);
    expect(table[1]).toMatch(/^team\/app\s+2\s+2\s+\d+(\.\d)? KiB\s+\d{4}-\d\d-\d\d \d\d:\d\d$/);
    // Columns line up.
    expect(new Set(table.map((l) => l.indexOf('  ', 9))).size).toBeLessThanOrEqual(2);
    const team = await run((print) => listCommand(client(), 'team/', false, print));
    expect(team.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['team/app', 'team/web']);
    const [json] = await run((print) => listCommand(client(), 'team/', true, print));
    const repositories = JSON.parse(json) as ApiRepository[];
    expect(repositories.map((r) => [r.name, r.tags, r.manifests])).toEqual([
      ['team/app', 2, 2],
      ['team/web', 1, 1],
    ]);
  });

  it('du sums repository sizes, for all or for one repository and those under it', async () => {
    await fill(registry());
    const [all] = await run((print) => diskUsageCommand(client(), undefined, true, print));
    const usage = JSON.parse(all) as { repositories: Array<{ name: string; size: number }>; total: number };
    expect(usage.repositories.map((r) => r.name)).toEqual(['team/app', 'team/web', 'tools']);
    expect(usage.total).toBe(usage.repositories.reduce((sum, r) => sum + r.size, 0));
    const [team] = await run((print) => diskUsageCommand(client(), 'team', true, print));
    expect((JSON.parse(team) as typeof usage).repositories.map((r) => r.name)).toEqual(['team/app', 'team/web']);
    const table = await run((print) => diskUsageCommand(client(), 'tools', false, print));
    const size = formatBytes(usage.repositories[2].size);
    const width = Math.max(4, size.length);
    expect(table).toEqual([`${'SIZE'.padStart(width)}  REPOSITORY`, `${size.padStart(width)}  tools`, `${size.padStart(width)}  total`]);
  });

  it('tags prints each tag with digest, size, platform, times and pulls', async () => {
    const reg = registry();
    const app = await fill(reg);
    expect((await reg.request.get('/v2/team/app/manifests/v1')).status).toBe(200);
    await reg.storage.pulls!.flush();
    const table = await run((print) => tagsCommand(client(), 'team/app', false, print));
    expect(table[0]).toMatch(/^TAG\s+DIGEST\s+SIZE\s+PLATFORMS\s+CREATED\s+PUSHED\s+PULLS\s+LAST PULL$/);
    const short = `sha256:${app.manifest.digest.slice(7, 19)}`;
    expect(table[1]).toMatch(new RegExp(`^v1\\s+${short}\\s+\\d+(\\.\\d)? KiB\\s+linux/amd64\\s+-\\s+\\S+ \\S+\\s+1\\s+\\d{4}-`));
    expect(table[2]).toMatch(/^v2\s.*\s0\s+-$/);
    const [json] = await run((print) => tagsCommand(client(), 'team/app', true, print));
    expect(JSON.parse(json)).toMatchObject([
      { tag: 'v1', digest: app.manifest.digest, pulls: 1 },
      { tag: 'v2', pulls: 0 },
    ]);
  });

  it('follows every page', async () => {
    await fill(registry());
    const names: string[] = [];
    for await (const r of client().pages<ApiRepository>('/api/v1/repositories?n=1', 'repositories')) names.push(r.name);
    expect(names).toEqual(['team/app', 'team/web', 'tools']);
  });

  it('fails with the registry error code, or says the registry cannot be reached', async () => {
    await expect(run((print) => tagsCommand(client(), 'nobody', false, print))).rejects.toMatchObject({ code: 'NAME_UNKNOWN', status: 404 });
    await expect(run((print) => tagsCommand(client(), 'Bad..Name', false, print))).rejects.toMatchObject({ code: 'NAME_INVALID' });
    const reg = registry();
    const url = reg.url;
    await reg.stop();
    const unreachable = run((print) => listCommand(new ApiClient({ url }), undefined, false, print));
    await expect(unreachable).rejects.toBeInstanceOf(ApiError);
    await expect(unreachable).rejects.toMatchObject({ code: 'UNREACHABLE' });
    await expect(unreachable).rejects.toThrow(`cannot reach ${url}: `);
  });
});

describe('stowage ls with auth', () => {
  const USERS = { admin: 'admin-pw-0a9b', reader: 'reader-pw-7c6d' };
  const access = [
    { repositories: ['**'], users: ['admin'], actions: ['pull', 'push', 'delete'] },
    { repositories: ['team/**'], users: ['reader'], actions: ['pull'] },
  ];
  let reg: TestRegistry;
  afterEach(() => reg.cleanup());

  it('sends Basic credentials with htpasswd', async () => {
    reg = await startTestRegistry(filesystemDriverFactory, {
      users: USERS,
      config: (p) => ({ auth: { htpasswd: { realm: 'stowage-test', path: p.htpasswd } }, stowage: { auth: { access } } }),
    });
    for (const name of ['team/app', 'secret/app']) await tryPushImage(reg, name, 'v1', { authorization: basic('admin', USERS.admin) });
    const [json] = await run((print) =>
      listCommand(new ApiClient({ url: reg.url, username: 'reader', password: USERS.reader }), undefined, true, print),
    );
    expect((JSON.parse(json) as ApiRepository[]).map((r) => r.name)).toEqual(['team/app']);
    await expect(run((print) => listCommand(new ApiClient({ url: reg.url }), undefined, true, print))).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
    });
  });

  it('fetches tokens from the realm a Bearer challenge names, one per scope', async () => {
    reg = await startTestRegistry(filesystemDriverFactory, {
      users: USERS,
      config: (p) => ({
        auth: { token: { realm: '/token', service: 'stowage-test', issuer: 'stowage-test-issuer' } },
        stowage: { auth: { issuer: { htpasswd: p.htpasswd, expiry: '2m' }, access } },
      }),
    });
    const push = await reg.request
      .get('/token?service=stowage-test&scope=repository:team/app:pull,push')
      .set('Authorization', basic('admin', USERS.admin));
    await tryPushImage(reg, 'team/app', 'v1', { authorization: `Bearer ${(push.body as { token: string }).token}` });
    const reader = new ApiClient({ url: reg.url, username: 'reader', password: USERS.reader });
    const [repositories] = await run((print) => listCommand(reader, undefined, true, print));
    expect((JSON.parse(repositories) as ApiRepository[]).map((r) => r.name)).toEqual(['team/app']);
    const [tags] = await run((print) => tagsCommand(reader, 'team/app', true, print));
    expect(JSON.parse(tags)).toMatchObject([{ tag: 'v1', pushedBy: 'admin' }]);
    await expect(run((print) => tagsCommand(reader, 'secret/app', true, print))).rejects.toMatchObject({ code: 'DENIED' });
  });
});

describe('the stowage command', () => {
  const REPO = fileURLToPath(new URL('../..', import.meta.url));
  const exec = promisify(execFile);
  let dir: string;
  let cli: string;
  let reg: TestRegistry;

  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'stowage-cli-'));
    cli = path.join(dir, 'stowage.mjs');
    await (bundle as (o: { entryPoints: string[]; outfile: string }) => Promise<unknown>)({
      entryPoints: [path.join(REPO, 'server/cli.ts')],
      outfile: cli,
    });
  });
  afterAll(() => fsp.rm(dir, { recursive: true, force: true }));
  beforeEach(async () => {
    reg = await startTestRegistry(filesystemDriverFactory, {
      users: { reader: 'reader-pw-5e4f' },
      config: (p) => ({ auth: { htpasswd: { realm: 'stowage-test', path: p.htpasswd } } }),
    });
    await tryPushImage(reg, 'team/app', 'v1', { authorization: basic('reader', 'reader-pw-5e4f') });
  });
  afterEach(() => reg.cleanup());

  const stowage = (args: string[], env: Record<string, string> = {}) =>
    exec(process.execPath, [cli, ...args], { env: { PATH: process.env.PATH ?? '', ...env } }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
    );

  it('reads the registry named by --url with credentials from the environment', async () => {
    const env = { STOWAGE_USERNAME: 'reader', STOWAGE_PASSWORD: 'reader-pw-5e4f' };
    const ls = await stowage(['ls', '--url', reg.url, '--json'], env);
    expect(ls.stderr).toBe('');
    expect(ls.code).toBe(0);
    expect((JSON.parse(ls.stdout) as ApiRepository[]).map((r) => r.name)).toEqual(['team/app']);
    const tags = await stowage(['tags', 'team/app'], { ...env, STOWAGE_URL: reg.url });
    expect(tags.code).toBe(0);
    expect(tags.stdout.split('\n')[1]).toMatch(/^v1\s+sha256:/);
    const du = await stowage(['du', 'team', '--url', reg.url, '-u', 'reader', '-p', 'reader-pw-5e4f']);
    expect(du.stdout).toMatch(/ team\/app\n.* total\n$/);
  });

  it('exits 1 with the error code on stderr', async () => {
    const refused = await stowage(['ls', '--url', reg.url]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe('stowage: UNAUTHORIZED: authentication required\n');
    const unknown = await stowage(['tags', 'nobody', '--url', reg.url, '-u', 'reader', '-p', 'reader-pw-5e4f']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^stowage: NAME_UNKNOWN: /);
  });
});
