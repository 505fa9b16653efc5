// `stowage retag` as a user runs it, beside a running server on the same storage: a tag that
// points elsewhere is not moved without --force, and what the command links the server serves
// at once (its caches learn the change from the metadata database, not from a timer).
import type { ChildProcess } from 'node:child_process';
import supertest from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleStowage, kill, makeInstallation } from '../helpers/stowage-process.js';
import { pushImage } from '../helpers/images.js';
import type { TestRegistry } from '../helpers/test-registry.js';
import { ACCEPT_ALL } from '../helpers/content.js';

describe('the stowage retag command beside a running server', () => {
  beforeAll(() => bundleStowage(), 60_000);

  it('refuses to move a tag without --force, and the server serves each change at once', async () => {
    const inst = await makeInstallation('stowage-retag-cli-');
    const run = (...args: string[]) => inst.command('retag', ...args);
    let server: ChildProcess | undefined;
    try {
      server = inst.run(['serve']);
      await inst.ready(server);
      const reg = { request: supertest(inst.url) } as unknown as TestRegistry;
      const a = await pushImage(reg, 'app', 'v1', { seed: 41 });
      const b = await pushImage(reg, 'app', 'v2', { seed: 42 });
      const digestOf = async (tag: string) => {
        const res = await reg.request.head(`/v2/app/manifests/${tag}`).set('Accept', ACCEPT_ALL);
        return res.status === 200 ? res.headers['docker-content-digest'] : res.status;
      };
      // Read once, so that the server holds them in its caches (a tag, and a tag not found).
      expect(await digestOf('v1')).toBe(a.manifest.digest);
      expect(await digestOf('stable')).toBe(404);

      const refused = run('app:v2', 'app:v1');
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain(`app:v1 points at ${a.manifest.digest}`);
      expect(refused.stderr).toContain('--force');
      expect(await digestOf('v1')).toBe(a.manifest.digest);

      // The same image again is not a move: no --force needed.
      expect(run('app:v1', 'app:v1').status).toBe(0);

      const forced = run('app:v2', 'app:v1', '--force');
      expect(forced.status, forced.stderr).toBe(0);
      expect(forced.stdout).toContain(`app:v1 -> ${b.manifest.digest}`);
      expect(await digestOf('v1')).toBe(b.manifest.digest);

      expect(run('app:v2', 'app:stable').status).toBe(0);
      expect(await digestOf('stable')).toBe(b.manifest.digest);
      const tags = await reg.request.get('/v2/app/tags/list');
      expect(tags.body.tags).toEqual(['stable', 'v1', 'v2']);
    } finally {
      if (server) await kill(server);
      await inst.remove();
    }
  }, 60_000);
});
