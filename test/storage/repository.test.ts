// The Repository interface and its decorators, below HTTP: the local repository over real
// storage, webhook events from what a repository did (notifications/listen.ts), and the one
// name router the /v2 dispatcher and the manifest fast path both ask (server/v2/name-routing.ts).
import { PassThrough, Readable, Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RegistryStorage } from '../../storage/registry.js';
import { RegistryError } from '../../errors/registry-error.js';
import type { Repository } from '../../storage/repository.js';
import { listen, type EventDraft } from '../../notifications/listen.js';
import { RepositoryRouter } from '../../server/v2/name-routing.js';
import { Aliases } from '../../server/v2/aliases.js';
import { ProxiedRepository } from '../../proxy/proxied-repository.js';
import { PullThroughProxy } from '../../proxy/pull-through.js';
import { ProxyRouter, createUpstream } from '../../proxy/routing.js';
import { silentLogger } from '../../server/logger.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import type { DriverBackend } from '../helpers/driver-backend.js';
import { EMPTY_CONFIG, blobOf, ociManifest } from '../helpers/content.js';

function sink(): Writable & { bytes: number } {
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.bytes += chunk.length;
      done();
    },
  }) as Writable & { bytes: number };
  out.bytes = 0;
  return out;
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    return err instanceof RegistryError ? err.code : String(err);
  }
}

describe('repositories and their decorators', () => {
  let backend: DriverBackend;
  let storage: RegistryStorage;

  beforeEach(async () => {
    backend = await filesystemDriverFactory.create();
    storage = new RegistryStorage(backend.driver());
    await storage.open();
  });
  afterEach(() => backend.cleanup());

  const layer = blobOf('layer bytes, eleven');
  const manifest = ociManifest(EMPTY_CONFIG, [layer]);

  /** A proxy of names under hub/ to an upstream nobody answers at (nothing here reaches it). */
  function hubProxy(): PullThroughProxy {
    const settings = { prefix: 'hub', remoteurl: 'http://127.0.0.1:9', ttlMs: 60_000, notfoundttlMs: 1000, hosts: [] };
    return new PullThroughProxy(storage, new ProxyRouter([createUpstream(settings, silentLogger())]), silentLogger());
  }

  async function pushImage(repo: Repository, tag: string): Promise<void> {
    await repo.uploads.putMonolithic(EMPTY_CONFIG.digest, Readable.from([EMPTY_CONFIG.bytes]));
    await repo.uploads.putMonolithic(layer.digest, Readable.from([layer.bytes]));
    await repo.manifests.put(tag, manifest.bytes, manifest.mediaType);
  }

  it('serves a local repository from storage, and knows which exist', async () => {
    const repo = storage.repository('team/app');
    expect(await codeOf(repo.tags.list())).toBe('NAME_UNKNOWN');
    await pushImage(repo, 'v1');
    expect(await repo.tags.list()).toEqual(['v1']);
    expect((await repo.manifests.get('v1')).digest).toBe(manifest.digest);
    expect(await repo.blobs.stat(layer.digest)).toEqual({ size: layer.size, stored: true });
    const out = sink();
    expect(await repo.blobs.copyTo(layer.digest, out, { start: 0, end: 4 })).toBe(5);
    expect(await storage.repositories()).toEqual(['team/app']);
  });

  it('turns what a repository did into events, and failures and HEADs into none', async () => {
    const events: EventDraft[] = [];
    const repo = listen(storage.repository('team/app'), (e) => events.push(e));
    await pushImage(repo, 'v1');
    expect(events.map((e) => [e.action, e.target.digest, e.target.tag])).toEqual([
      ['push', EMPTY_CONFIG.digest, undefined],
      ['push', layer.digest, undefined],
      ['push', manifest.digest, 'v1'],
    ]);
    expect(events[2].target).toMatchObject({ repository: 'team/app', mediaType: manifest.mediaType, size: manifest.size });
    events.length = 0;

    await repo.manifests.stat('v1');
    await repo.blobs.stat(layer.digest);
    await repo.blobs.open(layer.digest);
    expect(events).toEqual([]);

    await repo.manifests.get('v1');
    await repo.blobs.copyTo(layer.digest, sink(), { start: 2, end: 5 });
    expect(events.map((e) => [e.action, e.target.digest, e.target.length])).toEqual([
      ['pull', manifest.digest, manifest.size],
      ['pull', layer.digest, 4],
    ]);
    events.length = 0;

    expect(await codeOf(repo.manifests.get('nope'))).toBe('MANIFEST_UNKNOWN');
    expect(await codeOf(repo.uploads.putMonolithic(layer.digest, Readable.from([Buffer.from('other bytes')])))).toBe('DIGEST_INVALID');
    expect(await codeOf(repo.blobs.delete(blobOf('never pushed').digest))).toBe('BLOB_UNKNOWN');
    expect(events).toEqual([]);

    const other = listen(storage.repository('team/other'), (e) => events.push(e));
    expect(await other.blobs.mount('team/app', layer.digest)).toMatchObject({ digest: layer.digest });
    expect(await other.blobs.mount('team/nothing', EMPTY_CONFIG.digest)).toBeUndefined();
    await repo.manifests.delete('v1');
    expect(events.map((e) => [e.action, e.target.repository, e.target.fromRepository ?? e.target.tag])).toEqual([
      ['mount', 'team/other', 'team/app'],
      ['delete', 'team/app', 'v1'],
    ]);
  });

  it('routes a name once, for the dispatcher and the fast path alike', async () => {
    const proxy = hubProxy();
    try {
      const aliases = new Aliases({ app: 'team/app', busybox: 'hub/library/busybox' });
      const router = new RepositoryRouter(storage, proxy, aliases);

      expect(router.route('team/app')).toEqual({ name: 'team/app', alias: undefined, upstream: undefined });
      expect(router.isPlain('team/app')).toBe(true);
      expect(router.open(router.route('team/app'))).not.toBeInstanceOf(ProxiedRepository);

      expect(router.route('app')).toMatchObject({ name: 'team/app', alias: { name: 'team/app' } });
      expect(router.isPlain('app')).toBe(false);

      const viaAlias = router.route('busybox');
      expect(viaAlias).toMatchObject({ name: 'hub/library/busybox', upstream: { remoteName: 'library/busybox' } });
      expect(router.open(viaAlias)).toBeInstanceOf(ProxiedRepository);
      expect(router.isPlain('hub/library/busybox')).toBe(false);
      // containerd's mirror hint puts a plain name under the upstream's prefix.
      expect(router.route('library/busybox', '127.0.0.1:9')).toMatchObject({ name: 'hub/library/busybox' });
    } finally {
      await proxy.close();
    }
  });

  it('refuses every write to a proxied repository with UNSUPPORTED and nothing stored', async () => {
    const proxy = hubProxy();
    try {
      const router = new RepositoryRouter(storage, proxy);
      const repo = router.open(router.route('hub/library/busybox'));
      const writes: Array<() => Promise<unknown>> = [
        () => repo.uploads.start(),
        () => repo.uploads.putMonolithic(layer.digest, new PassThrough()),
        () => repo.uploads.status('0b0c2c56-6f8e-4d49-9c1c-3c8f0a3c8d11'),
        () => repo.uploads.cancel('0b0c2c56-6f8e-4d49-9c1c-3c8f0a3c8d11'),
        () => repo.blobs.mount('team/app', layer.digest),
        () => repo.blobs.delete(layer.digest),
        () => repo.manifests.put('v1', manifest.bytes, manifest.mediaType),
        () => repo.manifests.delete('v1'),
      ];
      for (const write of writes) expect(await codeOf(write())).toBe('UNSUPPORTED');
      expect(await storage.repositories()).toEqual([]);
    } finally {
      await proxy.close();
    }
  });
});
