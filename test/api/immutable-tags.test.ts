// Immutable tags (stowage.immutable, storage/immutable-tags.ts): moving, deleting or retagging onto
// a protected tag is refused with 403 DENIED naming the rule, before anything changes; re-pushing
// the same digest, first creation and unprotected tags are not affected.
import { describe, expect, it } from 'vitest';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { freshNamespace, useTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { expectAnswer, expectError } from '../helpers/expect-answer.js';
import { buildImage, pushBlob, pushImage, pushManifest } from '../helpers/images.js';
import { putManifest } from '../helpers/registry-client.js';
import { parseImageReference, retag } from '../../storage/jobs/retag.js';
import { RegistryError } from '../../errors/registry-error.js';

const RULES = [
  { repositories: ['other/**'], tags: ['stable'] },
  { repositories: ['*/release/**'], tags: ['v*', 'rc-?'] },
];

async function headDigest(reg: TestRegistry, name: string, reference: string): Promise<string | undefined> {
  const res = await reg.request.head(`/v2/${name}/manifests/${reference}`);
  return res.status === 200 ? (res.headers['docker-content-digest'] as string) : undefined;
}

/** An image's blobs pushed, its manifest not: ready for a PUT the test makes itself. */
async function stagedImage(reg: TestRegistry, name: string, seed: number) {
  const image = buildImage({ seed });
  for (const blob of [image.config, ...image.layers]) await pushBlob(reg, name, blob);
  return image;
}

describe('immutable tags', () => {
  const registry = useTestRegistry(filesystemDriverFactory, { shared: true, config: { stowage: { immutable: RULES } } });

  it('refuses a push moving a protected tag to another digest with 403 DENIED naming the rule, and changes nothing', async () => {
    const name = `${freshNamespace()}/release/app`;
    const first = await pushImage(registry(), name, 'v1.0', { seed: 1 });
    const other = await stagedImage(registry(), name, 2);
    const res = await putManifest(registry(), name, 'v1.0', other.manifest.bytes, other.manifest.mediaType);
    expectError(res, 403, 'DENIED');
    const error = res.body.errors[0];
    expect(error.message).toBe(`tag v1.0 of ${name} is immutable (stowage.immutable rule 2: */release/** v*,rc-?)`);
    expect(error.detail).toEqual({ repository: name, tag: 'v1.0', rule: { number: 2, ...RULES[1] } });
    expect(await headDigest(registry(), name, 'v1.0')).toBe(first.manifest.digest);
    // Refused before anything was written: the other manifest is not in the repository.
    expect(await headDigest(registry(), name, other.manifest.digest)).toBeUndefined();
    const tags = await registry().request.get(`/api/v1/tags/${name}`);
    expect(tags.body.tags.map((t: { tag: string; digest: string }) => [t.tag, t.digest])).toEqual([['v1.0', first.manifest.digest]]);
  });

  it('accepts the same digest pushed again, a first creation, and tags no rule names', async () => {
    const name = `${freshNamespace()}/release/app`;
    const first = await pushImage(registry(), name, 'rc-1', { seed: 3 });
    expectAnswer(await pushManifest(registry(), name, 'rc-1', first.manifest), 201);
    const other = await stagedImage(registry(), name, 4);
    // rc-10 is not rc-? and latest is no v*: both move freely.
    await pushManifest(registry(), name, 'latest', first.manifest);
    await pushManifest(registry(), name, 'latest', other.manifest);
    await pushManifest(registry(), name, 'rc-10', first.manifest);
    await pushManifest(registry(), name, 'rc-10', other.manifest);
    expect(await headDigest(registry(), name, 'latest')).toBe(other.manifest.digest);
    // The same tag in a repository no rule covers moves too.
    const free = `${freshNamespace()}/app`;
    await pushImage(registry(), free, 'v1.0', { seed: 3 });
    await pushImage(registry(), free, 'v1.0', { seed: 4 });
    expect(await headDigest(registry(), free, 'v1.0')).toBe(other.manifest.digest);
  });

  it('refuses deleting a protected tag, and deleting by digest the manifest it points at', async () => {
    const name = `${freshNamespace()}/release/app`;
    const image = await pushImage(registry(), name, 'v2', { seed: 5 });
    await pushManifest(registry(), name, 'latest', image.manifest);
    const byTag = await registry().request.delete(`/v2/${name}/manifests/v2`);
    expectError(byTag, 403, 'DENIED');
    expect(byTag.body.errors[0].message).toContain('tag v2 of');
    const byDigest = await registry().request.delete(`/v2/${name}/manifests/${image.manifest.digest}`);
    expectError(byDigest, 403, 'DENIED');
    expect(byDigest.body.errors[0].detail).toMatchObject({ repository: name, tag: 'v2' });
    // Nothing went: neither tag, nor the manifest.
    expect(await headDigest(registry(), name, 'v2')).toBe(image.manifest.digest);
    expect(await headDigest(registry(), name, 'latest')).toBe(image.manifest.digest);
    // An unprotected tag on it still goes.
    expectAnswer(await registry().request.delete(`/v2/${name}/manifests/latest`), 202);
  });

  it('refuses a retag onto a protected tag (storage and POST /admin/retag) before linking anything', async () => {
    const ns = freshNamespace();
    const name = `${ns}/release/app`;
    const kept = await pushImage(registry(), name, 'v3', { seed: 6 });
    const source = await pushImage(registry(), `${ns}/build`, 'candidate', { seed: 7 });
    let refused: unknown;
    try {
      await retag(registry().storage, parseImageReference(`${ns}/build:candidate`), parseImageReference(`${name}:v3`));
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(RegistryError);
    expect((refused as RegistryError).code).toBe('DENIED');
    const res = await registry()
      .request.post('/admin/retag')
      .send({ source: `${ns}/build:candidate`, destination: `${name}:v3` });
    expectError(res, 403, 'DENIED');
    expect(res.body.errors[0].message).toContain('stowage.immutable rule 2');
    expect(await headDigest(registry(), name, 'v3')).toBe(kept.manifest.digest);
    expect(await headDigest(registry(), name, source.manifest.digest)).toBeUndefined();
    // A retag that creates the tag, or points it where it already is, is allowed.
    expectAnswer(
      await registry()
        .request.post('/admin/retag')
        .send({ source: `${name}:v3`, destination: `${name}:v3` }),
      201,
    );
    expectAnswer(
      await registry()
        .request.post('/admin/retag')
        .send({ source: `${ns}/build:candidate`, destination: `${name}:v4` }),
      201,
    );
    expect(await headDigest(registry(), name, 'v4')).toBe(source.manifest.digest);
  });

  it('marks each tag of GET /api/v1/tags immutable or not', async () => {
    const name = `${freshNamespace()}/release/app`;
    const image = await pushImage(registry(), name, 'v1', { seed: 8 });
    await pushManifest(registry(), name, 'latest', image.manifest);
    const res = await registry().request.get(`/api/v1/tags/${name}`);
    expectAnswer(res, 200);
    expect(res.body.tags.map((t: { tag: string; immutable: boolean }) => [t.tag, t.immutable])).toEqual([
      ['latest', false],
      ['v1', true],
    ]);
  });
});
