// dist/stowage.mjs starts the bundled server from V8's code cache (scripts/stowage-loader.mjs),
// written at build time by scripts/bundle.mjs. The cache is used when it is this build's, and
// anything else (none, another build's, damaged bytes) only costs the compile it would save.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleServer } from '../../scripts/bundle.mjs';

const REPO = path.resolve(import.meta.dirname, '../..');
let root: string;
let cacheFile: string;
let cache: Buffer;

async function run(nodeFlags: string[] = []): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, [...nodeFlags, path.join(root, 'dist/stowage.mjs'), '--version'], {
    env: { ...process.env, STOWAGE_CODE_CACHE_REPORT: '1' },
    timeout: 30_000,
  });
}

describe('the code-cached loader', () => {
  beforeAll(async () => {
    root = await fsp.mkdtemp(path.join(os.tmpdir(), 'stowage-code-cache-'));
    // The package the bundle finds its version in (server/version.ts walks up from dist/).
    await fsp.writeFile(path.join(root, 'package.json'), JSON.stringify({ name: 'stowage', version: '9.9.9' }));
    await fsp.mkdir(path.join(root, 'scripts'));
    await fsp.copyFile(path.join(REPO, 'scripts/stowage-loader.mjs'), path.join(root, 'scripts/stowage-loader.mjs'));
    await bundleServer({ root, entry: path.join(REPO, 'server/cli.ts') });
    cacheFile = path.join(root, 'dist/stowage-main.cjs.cache');
    cache = await fsp.readFile(cacheFile);
  }, 120_000);

  afterAll(async () => {
    await fsp.rm(root, { recursive: true, force: true });
  });

  it('is written at build time with the build id, and used', async () => {
    const source = await fsp.readFile(path.join(root, 'dist/stowage-main.cjs'), 'utf8');
    const id = /\n\/\/# stowageBuild=([0-9a-f]{64})$/.exec(source)?.[1];
    expect(id).toBeDefined();
    const header = cache.subarray(0, cache.indexOf(10)).toString();
    expect(header).toBe(
      `//# stowageBuild=${id} ${createHash('sha1')
        .update(cache.subarray(header.length + 1))
        .digest('hex')}`,
    );
    expect(source.startsWith('#!')).toBe(false);
    expect(await run()).toEqual({ stdout: '9.9.9\n', stderr: 'code cache: used\n' });
    // V8 refuses a cache made with other flags (or by another V8); the bundle is compiled instead.
    expect(await run(['--no-opt'])).toEqual({ stdout: '9.9.9\n', stderr: 'code cache: rejected\n' });
  });

  it("ignores another build's cache, damaged bytes and none, and starts all the same", async () => {
    try {
      const other = Buffer.from(cache);
      other.write('0'.repeat(64), '//# stowageBuild='.length);
      await fsp.writeFile(cacheFile, other);
      expect(await run()).toEqual({ stdout: '9.9.9\n', stderr: 'code cache: none\n' });

      const damaged = Buffer.from(cache);
      for (let i = 200; i < damaged.length; i += 97) damaged[i] ^= 0xff;
      await fsp.writeFile(cacheFile, damaged);
      // V8 itself would abort on these bytes: the loader's checksum keeps them from it.
      expect(await run()).toEqual({ stdout: '9.9.9\n', stderr: 'code cache: none\n' });
      await fsp.writeFile(cacheFile, cache.subarray(0, cache.length - 1000));
      expect(await run()).toEqual({ stdout: '9.9.9\n', stderr: 'code cache: none\n' });

      await fsp.rm(cacheFile);
      expect(await run()).toEqual({ stdout: '9.9.9\n', stderr: 'code cache: none\n' });
    } finally {
      await fsp.writeFile(cacheFile, cache);
    }
  });
});
