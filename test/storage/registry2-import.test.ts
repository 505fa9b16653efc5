// Moving from registry:2 without pushing again: a directory written by CNCF Distribution 2.8.2
// (Debian's docker-registry, what `registry:2` runs) is served in place by stowage, on the
// filesystem and, copied object for object to where Distribution's S3 driver puts it, on S3. Every
// tag, manifest and blob pulls as the reference served it (same digests, same bytes, same media
// types), _catalog and tag lists match, `stowage reindex --verify` finds nothing, garbage
// collection keeps all of it, and what stowage pushes afterwards registry:2 can still serve (a
// rollback). The real CLI is run too: `stowage
// reindex` and `--verify` on such a directory, before and after a tag link goes missing.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bundle } from '../../scripts/bundle.mjs';
import { FilesystemDriver } from '../../storage/drivers/fs/fs-driver.js';
import { reindexCommand } from '../../server/commands/reindex.js';
import { collectGarbage } from '../../storage/jobs/gc.js';
import { RegistryStorage } from '../../storage/registry.js';
import { DEFAULT_CACHE_OPTIONS } from '../../storage/cache.js';
import { DATABASE_KINDS } from '../helpers/metadata-databases.js';
import type { DriverBackend, DriverFactory } from '../helpers/drivers.js';
import { startS3rver } from '../helpers/s3rver.js';
import { snapshot as fsSnapshot } from '../helpers/fs-snapshot.js';
import { tempDir } from '../helpers/temp-dir.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { pushImage } from '../helpers/images.js';
import {
  ACCEPT_ALL,
  MEDIA,
  blobOf,
  digestOf,
  dockerManifest,
  dockerManifestList,
  ociArtifact,
  ociIndex,
  ociManifest,
  randomBlob,
  EMPTY_CONFIG,
  type Blob,
  type Manifest,
} from '../helpers/content.js';
import { mountBlobTo, pushBlobTo, pushManifestTo, startReferenceRegistry, type ReferenceRegistry } from '../helpers/reference-registry.js';

const execFileP = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const V2 = 'docker/registry/v2';

/** What was pushed to each repository: tags, manifest digests and blobs, to pull back. */
type Pushed = Map<string, { tags: Set<string>; manifests: Set<string>; blobs: Map<string, Blob> }>;

/** The same manifest serialised without its mediaType field, so that only its shape says what it is. */
function withoutMediaType(manifest: Manifest): Manifest {
  const doc = JSON.parse(manifest.bytes.toString('utf8')) as Record<string, unknown>;
  delete doc.mediaType;
  const bytes = Buffer.from(JSON.stringify(doc, null, 2));
  const digest = digestOf(bytes);
  return { ...manifest, bytes, digest, size: bytes.length, descriptor: { ...manifest.descriptor, digest, size: bytes.length } };
}

/** Writes a registry:2 tree through Distribution's own API; what it holds, and the referrer's subject. */
async function fillReference(url: string): Promise<{ pushed: Pushed; subject: string; referrer: string }> {
  const pushed: Pushed = new Map();
  const repo = (name: string) => {
    if (!pushed.has(name)) pushed.set(name, { tags: new Set(), manifests: new Set(), blobs: new Map() });
    return pushed.get(name)!;
  };
  const blob = async (name: string, b: Blob) => {
    await pushBlobTo(url, name, b);
    repo(name).blobs.set(b.digest, b);
  };
  const manifest = async (name: string, reference: string, m: Manifest) => {
    await pushManifestTo(url, name, reference, m);
    repo(name).manifests.add(m.digest);
    if (!reference.includes(':')) repo(name).tags.add(reference);
  };
  const image = async (name: string, seed: number, format: 'oci' | 'docker', layers = [randomBlob(1024 + seed, seed)]) => {
    const config = blobOf(JSON.stringify({ architecture: seed % 2 ? 'amd64' : 'arm64', os: 'linux', created: '2024-01-02T03:04:05Z', seed }));
    for (const b of [config, ...layers]) await blob(name, b);
    return format === 'docker' ? dockerManifest(config, layers) : ociManifest(config, layers);
  };

  // One image under two tags and another under a third, in a nested name; a Docker and an OCI one.
  const app1 = await image('library/app', 21, 'docker');
  await manifest('library/app', '1.0', app1);
  await manifest('library/app', 'latest', app1);
  const app2 = withoutMediaType(await image('library/app', 22, 'oci'));
  await manifest('library/app', '2.0', app2);
  // An artifact whose subject is an image: registry:2 stores it, stowage's referrers API lists it.
  for (const b of [EMPTY_CONFIG, blobOf('signature')]) await blob('library/app', b);
  const signature = ociArtifact('application/vnd.example.sig', [blobOf('signature')], app1.descriptor);
  await manifest('library/app', signature.digest, signature);
  // Multi-arch: an OCI index without a mediaType field over children pushed by digest, and a Docker list.
  const amd = await image('multi', 23, 'oci');
  const arm = withoutMediaType(await image('multi', 24, 'oci'));
  for (const child of [amd, arm]) await manifest('multi', child.digest, child);
  await manifest('multi', 'latest', withoutMediaType(ociIndex([amd, arm])));
  const dAmd = await image('multi', 25, 'docker');
  const dArm = await image('multi', 26, 'docker');
  for (const child of [dAmd, dArm]) await manifest('multi', child.digest, child);
  await manifest('multi', 'docker-list', dockerManifestList([dAmd, dArm]));
  // A layer shared by two repositories: pushed once, mounted into the second.
  const base = randomBlob(4096, 27);
  await manifest('shared/one', 'v1', await image('shared/one', 28, 'oci', [base, randomBlob(100, 28)]));
  await mountBlobTo(url, 'shared/two', 'shared/one', base);
  repo('shared/two').blobs.set(base.digest, base);
  await manifest('shared/two', 'v1', await image('shared/two', 29, 'oci', [base, randomBlob(100, 29)]));
  await manifest('shared/two', 'v2', await image('shared/two', 30, 'docker'));
  return { pushed, subject: app1.digest, referrer: signature.digest };
}

interface Pulled {
  status: number;
  contentType: string | null;
  digest: string | null;
  /** sha256 of the bytes received. */
  received: string;
}

async function pullFrom(url: string, accept?: string): Promise<Pulled> {
  const res = await fetch(url, accept ? { headers: { Accept: accept } } : {});
  const bytes = Buffer.from(await res.arrayBuffer());
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    digest: res.headers.get('docker-content-digest'),
    received: digestOf(bytes),
  };
}

/**
 * Everything a client can pull of what was pushed, and the listings, as a registry at url answers;
 * sorted: false sorts the tag lists first (the reference's are not).
 */
async function pullEverything(url: string, pushed: Pushed, sorted = true): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { catalog: await (await fetch(`${url}/v2/_catalog`)).json() };
  for (const [name, repo] of pushed) {
    // Distribution 2.8 lists tags in directory order; the spec (and stowage) sort them lexically.
    const list = (await (await fetch(`${url}/v2/${name}/tags/list`)).json()) as { name: string; tags: string[] };
    out[`${name} tags`] = sorted ? list : { ...list, tags: [...list.tags].sort() };
    for (const reference of [...repo.tags, ...repo.manifests])
      out[`${name}:${reference}`] = await pullFrom(`${url}/v2/${name}/manifests/${reference}`, ACCEPT_ALL);
    for (const digest of repo.blobs.keys()) {
      const pulled = await pullFrom(`${url}/v2/${name}/blobs/${digest}`);
      // The content type of a blob is no part of it (Distribution sends octet-stream for all).
      out[`${name}@${digest}`] = { status: pulled.status, digest: pulled.digest, received: pulled.received };
    }
  }
  return out;
}

let work: string;
let tree: string;
let reference: { pushed: Pushed; subject: string; referrer: string };
let answers: Record<string, unknown>;

beforeAll(async () => {
  work = await tempDir('stowage-registry2-');
  tree = path.join(work, 'reference');
  const registry: ReferenceRegistry = await startReferenceRegistry(tree);
  try {
    reference = await fillReference(registry.url);
    answers = await pullEverything(registry.url, reference.pushed, false);
  } finally {
    await registry.stop();
  }
}, 60_000);

afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

it('the reference answered every pull with what was pushed', () => {
  // The baseline the tests below compare stowage with: the reference's own answers are right.
  for (const [name, repo] of reference.pushed) {
    for (const digest of repo.manifests) expect(answers[`${name}:${digest}`]).toMatchObject({ status: 200, digest, received: digest });
    for (const digest of repo.blobs.keys()) expect(answers[`${name}@${digest}`]).toEqual({ status: 200, digest, received: digest });
  }
  expect(answers.catalog).toEqual({ repositories: ['library/app', 'multi', 'shared/one', 'shared/two'] });
  // Its tree: revision links hold the bare digest, and nothing of stowage's is there.
  expect(existsSync(path.join(tree, V2, 'repositories/library/app/_manifests/revisions'))).toBe(true);
  expect(existsSync(path.join(tree, 'layout-version'))).toBe(false);
});

/** A copy of the reference's directory, served by stowage's filesystem driver at its root. */
const filesystemCopy: DriverFactory = {
  name: 'filesystem',
  async create(): Promise<DriverBackend> {
    const dir = await tempDir('stowage-registry2-copy-');
    const root = path.join(dir, 'root');
    await fsp.cp(tree, root, { recursive: true });
    return {
      root,
      dir,
      config: { filesystem: { rootdirectory: root } },
      driver: () => new FilesystemDriver(root),
      snapshot: () => fsSnapshot(dir),
      cleanup: () => fsp.rm(dir, { recursive: true, force: true }),
    };
  },
};

/**
 * The reference's objects in a bucket under a prefix, where Distribution's S3 driver keeps them
 * (<rootdirectory>/docker/registry/v2/...): its S3 driver itself does not run against s3rver.
 */
const s3Copy: DriverFactory = {
  name: 's3',
  async create(): Promise<DriverBackend> {
    const dir = await tempDir('stowage-registry2-s3-');
    const server = await startS3rver();
    const rootdirectory = 'registry';
    const client = server.client();
    const files = (await fsp.readdir(tree, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    for (const file of files) {
      const full = path.join(file.parentPath, file.name);
      await client.putObject(server.bucket, `${rootdirectory}/${path.relative(tree, full)}`, await fsp.readFile(full));
    }
    return {
      root: `s3://${server.bucket}/${rootdirectory}`,
      dir,
      config: { s3: server.settings({ rootdirectory }) },
      driver: () => server.driver({ rootdirectory }),
      snapshot: () => Promise.reject(new Error('not used')),
      async cleanup() {
        await server.close();
        await fsp.rm(dir, { recursive: true, force: true });
      },
    };
  },
};

async function verify(reg: TestRegistry): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await reindexCommand(reg.storage, reg.config, { verify: true, json: false, note: () => {} }, (l) => lines.push(l));
  return { code, lines };
}

describe.each(DATABASE_KINDS)('a registry:2 directory served in place, database on $name', (kind) => {
  it.each([filesystemCopy, s3Copy])('pulls everything as registry:2 did, over $name', async (factory) => {
    const reg = await startTestRegistry(factory, { database: kind.name });
    cleanups.push(() => reg.cleanup());
    expect(reg.storage.layout).toBe('distribution');

    expect(await pullEverything(reg.url, reference.pushed)).toEqual(answers);
    expect(await verify(reg)).toEqual({ code: 0, lines: [] });
    // From the database: what registry:2 could not answer, the artifact referring to an image.
    const referrers = (await (await fetch(`${reg.url}/v2/library/app/referrers/${reference.subject}`)).json()) as { manifests: { digest: string }[] };
    expect(referrers.manifests.map((m) => m.digest)).toEqual([reference.referrer]);
    // Garbage collection reads registry:2's revision links too: everything is referenced, nothing
    // goes, whether or not the database also holds the references.
    for (const storage of [reg.storage, new RegistryStorage(reg.storage.driver, DEFAULT_CACHE_OPTIONS, undefined, 'distribution')]) {
      expect(await collectGarbage(storage, { gracePeriodMs: 0 })).toMatchObject({ manifestsDeleted: [], blobsDeleted: [], unreadable: [] });
    }
    expect(await pullEverything(reg.url, reference.pushed)).toEqual(answers);

    // A push through stowage lands in the same tree, written as registry:2 writes it.
    const pushed = await pushImage(reg, 'library/app', '3.0', { seed: 31 });
    const link = `${V2}/repositories/library/app/_manifests/revisions/sha256/${pushed.manifest.digest.slice(7)}/link`;
    const inner = factory === filesystemCopy ? new FilesystemDriver(reg.root) : null;
    if (inner) {
      expect((await inner.getContent(link)).toString()).toBe(pushed.manifest.digest);
      expect(existsSync(path.join(reg.root, 'layout-version'))).toBe(false);
    }
    expect(await verify(reg)).toEqual({ code: 0, lines: [] });
    await reg.stop();
    if (!inner) return;

    // Rollback: registry:2 over the directory stowage has written serves the old and the new.
    const rolledBack = await startReferenceRegistry(reg.root);
    cleanups.push(() => rolledBack.stop());
    const after = await pullEverything(rolledBack.url, reference.pushed, false);
    expect(after).toEqual({ ...answers, 'library/app tags': { name: 'library/app', tags: ['1.0', '2.0', '3.0', 'latest'] } });
    const manifest = await pullFrom(`${rolledBack.url}/v2/library/app/manifests/3.0`, ACCEPT_ALL);
    expect(manifest).toEqual({ status: 200, contentType: MEDIA.ociManifest, digest: pushed.manifest.digest, received: pushed.manifest.digest });
    for (const blob of [pushed.config, ...pushed.layers]) {
      expect(await pullFrom(`${rolledBack.url}/v2/library/app/blobs/${blob.digest}`)).toMatchObject({ status: 200, received: blob.digest });
    }
  });
});

describe('stowage reindex on a registry:2 directory (the CLI)', () => {
  let cli: string;

  beforeAll(async () => {
    cli = path.join(work, 'stowage.mjs');
    await (bundle as (o: { entryPoints: string[]; outfile: string }) => Promise<unknown>)({
      entryPoints: [path.join(REPO, 'server/cli.ts')],
      outfile: cli,
    });
  }, 60_000);

  /** Runs the bundled CLI; its exit status and output. */
  async function stowage(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await execFileP(process.execPath, [cli, ...args], {
        // The bundle loads the native and optional modules (better-sqlite3, pg) at run time, from here.
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_PATH: path.join(REPO, 'node_modules') },
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const failed = err as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }

  it.each(DATABASE_KINDS)('indexes it, then --verify finds nothing until a tag link goes missing (database on $name)', async (kind) => {
    const backend = await filesystemCopy.create();
    cleanups.push(() => backend.cleanup());
    const database = await kind.create();
    cleanups.push(() => database.drop());
    const config = path.join(backend.dir, 'config.yml');
    await fsp.writeFile(
      config,
      JSON.stringify({ storage: { filesystem: { rootdirectory: backend.root } }, stowage: { database: { url: database.url } } }),
    );

    const manifests = [...reference.pushed.values()].reduce((n, r) => n + r.manifests.size, 0);
    const tags = [...reference.pushed.values()].reduce((n, r) => n + r.tags.size, 0);
    const indexed = await stowage('reindex', '--config', config);
    expect(indexed, indexed.stderr).toMatchObject({ code: 0 });
    expect(indexed.stdout).toMatch(
      new RegExp(`^4 repositories, ${manifests} manifests, ${tags} tags indexed; 0 manifests skipped, 0 entries removed`),
    );
    const clean = await stowage('reindex', '--verify', '--config', config);
    expect(clean).toMatchObject({ code: 0, stdout: '' });
    expect(clean.stderr).toMatch(/0 differences from the database/);

    const digest = (await fsp.readFile(path.join(backend.root, V2, 'repositories/library/app/_manifests/tags/2.0/current/link'), 'utf8')).trim();
    await fsp.rm(path.join(backend.root, V2, 'repositories/library/app/_manifests/tags/2.0'), { recursive: true });
    const differs = await stowage('reindex', '--verify', '--config', config);
    expect(differs).toMatchObject({ code: 1, stdout: `tag library/app:2.0: in the database (${digest}), not in storage\n` });

    const repaired = await stowage('reindex', '--config', config);
    expect(repaired.stdout).toMatch(/^removed: tag library\/app:2.0\n/);
    expect(await stowage('reindex', '--verify', '--config', config)).toMatchObject({ code: 0, stdout: '' });
  });
});
