// `stowage rm`: the DELETE of the API from the registry's machine, by the same rules (deletes
// enabled, not read-only, aliases and caches refuse, immutable tags stay), and as a user runs it
// beside a server on the same storage, which serves the deletion from the next request on.
import type { ChildProcess } from 'node:child_process';
import supertest from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { useTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { pushImage, pushManifest } from '../helpers/images.js';
import { ACCEPT_ALL } from '../helpers/content.js';
import { bundleStowage, kill, makeInstallation } from '../helpers/stowage-process.js';
import { parseRemoval, removeCommand } from '../../server/commands/remove.js';

function remover(reg: TestRegistry, config = reg.config) {
  const lines: string[] = [];
  return {
    lines,
    run: (image: string, json = false) => removeCommand(reg.storage, config, image, { json }, (line) => void lines.push(line)),
  };
}

async function statusOf(reg: TestRegistry, name: string, reference: string): Promise<number> {
  return (await reg.request.head(`/v2/${name}/manifests/${reference}`).set('Accept', ACCEPT_ALL)).status;
}

describe.each(DRIVERS)('stowage rm on $name', (factory) => {
  const registry = useTestRegistry(factory, {
    config: {
      stowage: {
        aliases: { short: 'team/app', open: { target: 'team/app', writable: true } },
        immutable: [{ repositories: ['release/**'], tags: ['v*'] }],
      },
    },
  });

  it('deletes a tag and leaves the manifest and the other tags', async () => {
    const reg = registry();
    const image = await pushImage(reg, 'team/app', 'v1', { seed: 51 });
    await pushManifest(reg, 'team/app', 'v2', image.manifest);
    const rm = remover(reg);
    await rm.run('team/app:v1');
    expect(rm.lines).toEqual(['deleted team/app:v1; layers no image uses any more are freed by the next gc']);
    expect(await statusOf(reg, 'team/app', 'v1')).toBe(404);
    expect(await statusOf(reg, 'team/app', 'v2')).toBe(200);
    expect(await statusOf(reg, 'team/app', image.manifest.digest)).toBe(200);
  });

  it('deletes a manifest by digest with every tag on it, and says which', async () => {
    const reg = registry();
    const image = await pushImage(reg, 'team/app', 'v1', { seed: 52 });
    await pushManifest(reg, 'team/app', 'latest', image.manifest);
    const other = await pushImage(reg, 'team/app', 'other', { seed: 53 });
    const rm = remover(reg);
    await rm.run(`team/app@${image.manifest.digest}`, true);
    expect(JSON.parse(rm.lines[0])).toEqual({
      deleted: `team/app@${image.manifest.digest}`,
      repository: 'team/app',
      reference: image.manifest.digest,
      tags: ['latest', 'v1'],
    });
    expect(await statusOf(reg, 'team/app', image.manifest.digest)).toBe(404);
    expect((await reg.request.get('/v2/team/app/tags/list')).body.tags).toEqual(['other']);
    expect(await statusOf(reg, 'team/app', other.manifest.digest)).toBe(200);
  });

  it('refuses what the API refuses, and changes nothing', async () => {
    const reg = registry();
    const image = await pushImage(reg, 'team/app', 'v1', { seed: 54 });
    await pushImage(reg, 'release/app', 'v1', { seed: 55 });
    const rm = remover(reg);
    await expect(rm.run('team/app')).rejects.toMatchObject({ code: 'NAME_INVALID' });
    await expect(rm.run('team/app:nope')).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' });
    await expect(rm.run('team/app@sha256:' + '0'.repeat(64))).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' });
    await expect(rm.run('../etc:v1')).rejects.toMatchObject({ code: 'NAME_INVALID' });
    await expect(rm.run('short:v1')).rejects.toMatchObject({ code: 'DENIED' });
    await expect(rm.run('release/app:v1')).rejects.toMatchObject({ code: 'DENIED' });
    const disabled = remover(reg, { ...reg.config, storage: { ...reg.config.storage, delete: { enabled: false } } });
    await expect(disabled.run('team/app:v1')).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      message: expect.stringContaining('storage.delete.enabled'),
    });
    expect(await statusOf(reg, 'team/app', 'v1')).toBe(200);
    expect(await statusOf(reg, 'release/app', 'v1')).toBe(200);
    expect(await statusOf(reg, 'team/app', image.manifest.digest)).toBe(200);
    expect(rm.lines).toEqual([]);
    // A writable alias deletes in its target, as DELETE through it does.
    await rm.run('open:v1');
    expect(await statusOf(reg, 'team/app', 'v1')).toBe(404);
  });

  it('refuses a pull-through cache', async () => {
    const reg = registry();
    const cached = {
      ...reg.config,
      stowage: { ...reg.config.stowage, proxies: [{ prefix: 'hub', remoteurl: 'http://127.0.0.1:9', ttlMs: 1, notfoundttlMs: 1, hosts: [] }] },
    };
    await pushImage(reg.storage, 'hub/library/x', 'v1', { seed: 56 });
    await expect(remover(reg, cached as typeof reg.config).run('hub/library/x:v1')).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    expect(await reg.storage.manifests.storedTagTarget('hub/library/x', 'v1')).toBeDefined();
  });
});

describe('parseRemoval', () => {
  it('takes REPO:TAG and REPO@DIGEST only', () => {
    expect(parseRemoval('a/b:v1')).toEqual({ name: 'a/b', reference: 'v1' });
    expect(parseRemoval('localhost/a@sha256:' + 'a'.repeat(64))).toEqual({ name: 'localhost/a', reference: 'sha256:' + 'a'.repeat(64) });
    expect(() => parseRemoval('a/b')).toThrow(expect.objectContaining({ code: 'NAME_INVALID' }));
  });
});

describe('the stowage rm command beside a running server', () => {
  beforeAll(() => bundleStowage(), 60_000);

  it('exits 0 and 1 as documented, and the server stops serving what it deleted at once', async () => {
    const inst = await makeInstallation('stowage-rm-cli-');
    const run = (...args: string[]) => inst.command('rm', ...args);
    let server: ChildProcess | undefined;
    try {
      server = inst.run(['serve']);
      await inst.ready(server);
      const reg = { request: supertest(inst.url) } as unknown as TestRegistry;
      const image = await pushImage(reg, 'app', 'v1', { seed: 57 });
      expect(await statusOf(reg, 'app', 'v1')).toBe(200);
      expect(await statusOf(reg, 'app', image.manifest.digest)).toBe(200);

      const removed = run('app:v1');
      expect(removed.status, removed.stderr).toBe(0);
      expect(removed.stdout).toContain('deleted app:v1');
      expect(await statusOf(reg, 'app', 'v1')).toBe(404);

      const missing = run('app:v1');
      expect(missing.status).toBe(1);
      expect(missing.stderr).toMatch(/^stowage: MANIFEST_UNKNOWN/);
      expect(run('app').status).toBe(1);

      expect(run(`app@${image.manifest.digest}`).status).toBe(0);
      expect(await statusOf(reg, 'app', image.manifest.digest)).toBe(404);
    } finally {
      if (server) await kill(server);
      await inst.remove();
    }
  }, 60_000);
});
