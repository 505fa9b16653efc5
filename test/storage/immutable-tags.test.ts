// The rules of stowage.immutable (storage/immutable-tags.ts), their validation at start-up, and the
// race of two writers creating the same protected tag with different digests: the first one wins,
// in one process (the manifest store's per-tag lock) and across processes (the metadata database).
import { rm } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImmutableTags } from '../../storage/immutable-tags.js';
import { ConfigError, configFrom } from '../../server/config.js';
import { RegistryStorage } from '../../storage/registry.js';
import { FilesystemDriver } from '../../storage/drivers/fs/fs-driver.js';
import { tagCurrentLinkKey } from '../../storage/layout.js';
import { MetadataStore } from '../../storage/metadata/metadata-store.js';
import { RegistryError } from '../../errors/registry-error.js';
import { DATABASE_KINDS, openTestDatabase } from '../helpers/metadata-databases.js';
import { PausingDriver } from '../helpers/pausing-driver.js';
import { tempDir } from '../helpers/temp-dir.js';
import { buildImage, pushBlob, type Image } from '../helpers/images.js';

describe('immutable tag rules', () => {
  const rules = new ImmutableTags([
    { repositories: ['release/**'], tags: ['v*'] },
    { repositories: ['team/*/app', 'solo'], tags: ['rc-?', 'stable'] },
  ]);

  it.each([
    ['release/app', 'v1.0', 1],
    ['release', 'v1', 1],
    ['release/a/b', 'v', 1],
    ['team/x/app', 'rc-1', 2],
    ['solo', 'stable', 2],
    ['release/app', 'latest', undefined],
    ['released/app', 'v1', undefined],
    ['team/x/y/app', 'rc-1', undefined],
    ['team/x/app', 'rc-10', undefined],
    ['solo', 'stable-1', undefined],
  ])('%s:%s is protected by rule %s', (name, tag, number) => {
    expect(rules.ruleFor(name, tag)?.number).toBe(number);
  });

  it('knows which repositories any rule covers', () => {
    expect(rules.coversRepository('release/app')).toBe(true);
    expect(rules.coversRepository('team/x/app')).toBe(true);
    expect(rules.coversRepository('other')).toBe(false);
  });

  it('words the refusal as 403 DENIED naming tag, repository and rule', () => {
    const err = ImmutableTags.refusal('release/app', 'v1.0', rules.ruleFor('release/app', 'v1.0')!);
    expect(err.code).toBe('DENIED');
    expect(err.status).toBe(403);
    expect(err.message).toBe('tag v1.0 of release/app is immutable (stowage.immutable rule 1: release/** v*)');
    expect(err.detail).toEqual({ repository: 'release/app', tag: 'v1.0', rule: { number: 1, repositories: ['release/**'], tags: ['v*'] } });
  });
});

describe('stowage.immutable in the config', () => {
  it('is empty when absent, as in a registry:2 config', () => {
    expect(configFrom({ version: 0.1 }).stowage.immutable).toEqual([]);
  });

  it('accepts globs over repositories and tags', () => {
    const config = configFrom({ stowage: { immutable: [{ repositories: ['release/**', '*/prod'], tags: ['v*', 'rc-?', 'latest'] }] } });
    expect(config.stowage.immutable).toHaveLength(1);
  });

  it.each([
    [{ repositories: [], tags: ['v*'] }, 'stowage.immutable.0.repositories'],
    [{ repositories: ['release/**'], tags: [] }, 'stowage.immutable.0.tags'],
    [{ repositories: ['Release/**'], tags: ['v*'] }, 'stowage.immutable.0.repositories.0'],
    [{ repositories: ['release/**'], tags: ['v[0-9]*'] }, 'stowage.immutable.0.tags.0'],
    [{ repositories: ['release/**'], tags: ['v*'], extra: true }, 'stowage.immutable.0.extra'],
    [{ repositories: ['release/**'] }, 'stowage.immutable.0.tags'],
  ])('refuses %j at start-up, naming %s', (rule, key) => {
    expect(() => configFrom({ stowage: { immutable: [rule] } })).toThrow(ConfigError);
    expect(() => configFrom({ stowage: { immutable: [rule] } })).toThrow(key);
  });
});

describe.each(DATABASE_KINDS)('two writers creating one protected tag ($name)', (kind) => {
  const NAME = 'release/app';
  const TAG = 'v1';
  const immutable = () => new ImmutableTags([{ repositories: ['release/**'], tags: ['v*'] }]);
  let dir: string;
  let metadata: MetadataStore;
  let drop: () => Promise<void>;
  let pausing: PausingDriver;
  let a: Image;
  let b: Image;

  beforeEach(async () => {
    dir = await tempDir('stowage-immutable-');
    const opened = await openTestDatabase(kind);
    metadata = new MetadataStore(opened.database);
    drop = opened.drop;
    pausing = new PausingDriver(new FilesystemDriver(dir, { fsync: false }));
    a = buildImage({ seed: 1 });
    b = buildImage({ seed: 2 });
  });

  afterEach(async () => {
    await drop();
    await rm(dir, { recursive: true, force: true });
  });

  /** A storage over the shared directory and database: a process of its own (its own lock and cache). */
  async function open(driver = pausing as FilesystemDriver | PausingDriver): Promise<RegistryStorage> {
    const storage = new RegistryStorage(driver, undefined, metadata, 'stowage', immutable());
    await storage.open();
    for (const image of [a, b]) for (const blob of [image.config, ...image.layers]) await pushBlob(storage, NAME, blob);
    return storage;
  }

  const put = (storage: RegistryStorage, image: Image) => storage.manifests.put(NAME, TAG, image.manifest.bytes, image.manifest.mediaType);

  async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
    try {
      await promise;
      return undefined;
    } catch (err) {
      return err instanceof RegistryError ? err.code : String(err);
    }
  }

  it('in one process, the second waits for the first, then is refused (without a database to arbitrate)', async () => {
    const storage = new RegistryStorage(pausing, undefined, undefined, 'stowage', immutable());
    await storage.open();
    for (const image of [a, b]) for (const blob of [image.config, ...image.layers]) await pushBlob(storage, NAME, blob);
    // The first writer has checked the tag (absent) and is about to write its link.
    const first = pausing.pause('putContent', (key) => key === tagCurrentLinkKey(NAME, TAG));
    const firstPut = put(storage, a);
    await first.reached;
    // The second's read of the tag is held until the first is done: without the per-tag lock, it
    // would have read the tag absent while the first was stopped, and moved it.
    const secondRead = pausing.pause('getContent', (key) => key === tagCurrentLinkKey(NAME, TAG));
    const secondPut = codeOf(put(storage, b));
    first.open();
    await firstPut;
    secondRead.open();
    expect(await secondPut).toBe('DENIED');
    expect(secondRead.hit).toBe(true);
    expect(await storage.manifests.storedTagTarget(NAME, TAG)).toBe(a.manifest.digest);
    await storage.close();
  });

  it('across processes, the database lets one commit and refuses the other, whose link is put back', async () => {
    const slow = await open();
    const fast = await open(new FilesystemDriver(dir, { fsync: false }));
    // The slow process checked the tag while it was absent, then stops before writing its link.
    const gate = pausing.pause('putContent', (key) => key === tagCurrentLinkKey(NAME, TAG));
    const stalled = codeOf(put(slow, a));
    await gate.reached;
    // Meanwhile the other process creates the tag: it was absent when it looked too.
    await put(fast, b);
    gate.open();
    expect(await stalled).toBe('DENIED');
    expect(await fast.manifests.storedTagTarget(NAME, TAG)).toBe(b.manifest.digest);
    expect(await metadata.tagTarget(NAME, TAG)).toBe(b.manifest.digest);
    // Re-pushing the winner's digest still succeeds.
    await put(slow, b);
    await slow.close();
  });
});
