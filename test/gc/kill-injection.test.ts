// Kill injection (storage/crash-points.ts): the real server, or `stowage gc`, is killed with
// SIGKILL at each named step of a manifest push and of a collection, then started again. After
// every kill: what was acknowledged before still pulls byte for byte, everything listed
// (_catalog, tags lists) is servable down to its blobs, the cut push is either listed whole or
// not at all, and a full collection afterwards changes none of that.
import type { ChildProcess } from 'node:child_process';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRASH_POINTS, type CrashPoint } from '../../storage/crash-points.js';
import { blobOf, ociIndex, ociManifest, randomBlob, type Blob, type Manifest } from '../helpers/content.js';
import { verify, verifyListed, type Expected } from '../helpers/pusher.js';
import { sendBytes } from '../helpers/registry-client.js';
import { bundleStowage, exited, kill, makeInstallation, type Installation } from '../helpers/stowage-process.js';

type Agent = ReturnType<typeof supertest>;

const PUSH_POINTS = CRASH_POINTS.filter((p) => p.startsWith('manifest-'));
const GC_POINTS = CRASH_POINTS.filter((p) => p.startsWith('gc-'));

function image(seed: number): { blobs: Blob[]; manifest: Manifest } {
  const config = blobOf(JSON.stringify({ architecture: 'amd64', os: 'linux', created: '2026-01-01T00:00:00Z', seed }));
  const layer = randomBlob(1024 + seed, seed);
  return { blobs: [config, layer], manifest: ociManifest(config, [layer]) };
}

async function pushBlobs(agent: Agent, name: string, blobs: Blob[]): Promise<void> {
  for (const blob of blobs) {
    const res = await agent.post(`/v2/${name}/blobs/uploads/?digest=${blob.digest}`).set('Content-Type', 'application/octet-stream').send(blob.bytes);
    expect(res.status).toBe(201);
  }
}

function putManifest(agent: Agent, name: string, reference: string, manifest: Manifest) {
  return sendBytes(agent.put(`/v2/${name}/manifests/${reference}`).set('Content-Type', manifest.mediaType), manifest.bytes);
}

/** Acknowledged content the test tracks: each tag with the manifest, blobs and children it must pull as. */
function remember(expected: Expected, name: string, tag: string, manifest: Manifest, blobs: Blob[], children: Manifest[] = []): void {
  expected.tags.set(`${name}:${tag}`, { name, tag, manifest, blobs, children });
  expected.acknowledged++;
}

async function checkAll(agent: Agent, expected: Expected, cut?: { name: string; tag: string; manifest: Manifest }): Promise<void> {
  expect(await verify(agent, expected)).toEqual([]);
  const listed = await verifyListed(agent);
  expect(listed.problems).toEqual([]);
  if (cut) {
    // Listed whole (it was all written before the kill) or not at all.
    const tags = ((await agent.get(`/v2/${cut.name}/tags/list`)).body as { tags?: string[] }).tags ?? [];
    if (tags.includes(cut.tag)) {
      const res = await agent.get(`/v2/${cut.name}/manifests/${cut.tag}`).set('Accept', cut.manifest.mediaType);
      expect(res.status).toBe(200);
    }
  }
}

describe('kill injection', () => {
  let inst: Installation;
  let server: ChildProcess | undefined;
  beforeAll(async () => {
    await bundleStowage();
  });
  afterAll(async () => {
    if (server) await kill(server);
    await inst?.remove();
  });

  async function restart(env?: Record<string, string>): Promise<void> {
    if (server) await kill(server);
    server = inst.run(['serve'], env);
    await inst.ready(server);
  }

  /** A registry with an acknowledged image, an index over two children, and garbage for GC. */
  async function seeded(agent: Agent): Promise<Expected> {
    const expected: Expected = { tags: new Map(), acknowledged: 0, failed: new Map() };
    const kept = image(1);
    await pushBlobs(agent, 'team/kept', kept.blobs);
    const first = await putManifest(agent, 'team/kept', 'v1', kept.manifest);
    expect(first.status, first.text).toBe(201);
    remember(expected, 'team/kept', 'v1', kept.manifest, kept.blobs);
    const [a, b] = [image(2), image(3)];
    await pushBlobs(agent, 'team/multi', [...a.blobs, ...b.blobs]);
    for (const child of [a, b]) expect((await putManifest(agent, 'team/multi', child.manifest.digest, child.manifest)).status).toBe(201);
    const index = ociIndex([a.manifest, b.manifest]);
    expect((await putManifest(agent, 'team/multi', 'latest', index)).status).toBe(201);
    remember(expected, 'team/multi', 'latest', index, [], [a.manifest, b.manifest]);
    // Garbage: an untagged manifest and an orphan blob.
    const untagged = image(4);
    await pushBlobs(agent, 'team/old', untagged.blobs);
    expect((await putManifest(agent, 'team/old', untagged.manifest.digest, untagged.manifest)).status).toBe(201);
    await pushBlobs(agent, 'team/old', [randomBlob(3000, 99)]);
    return expected;
  }

  it.each(PUSH_POINTS)('keeps the registry whole when the server dies at %s of a push', { timeout: 60_000 }, async (point: CrashPoint) => {
    inst = await makeInstallation('stowage-kill-');
    await restart();
    const agent = supertest(inst.url);
    const expected = await seeded(agent);
    // The push to be cut: its blobs land, then the server dies at the point while storing its manifest.
    const next = image(5);
    await pushBlobs(agent, 'team/kept', next.blobs);
    await restart({ STOWAGE_CRASH_AT: point });
    await putManifest(agent, 'team/kept', 'v2', next.manifest).catch(() => undefined);
    await exited(server!);
    expect(server!.signalCode, `the server was to die at ${point}`).toBe('SIGKILL');
    await restart();
    await checkAll(agent, expected, { name: 'team/kept', tag: 'v2', manifest: next.manifest });
    // A full collection afterwards keeps all of it.
    const gc = inst.run(['gc', '--grace', '0s', '--delete-untagged']);
    expect(await exited(gc), inst.stderr.join('\n')).toBe(0);
    await restart();
    await checkAll(agent, expected, { name: 'team/kept', tag: 'v2', manifest: next.manifest });
    await kill(server!);
    server = undefined;
    await inst.remove();
  });

  it.each(GC_POINTS)('keeps the registry whole when stowage gc dies at %s', { timeout: 60_000 }, async (point: CrashPoint) => {
    inst = await makeInstallation('stowage-kill-');
    await restart();
    const agent = supertest(inst.url);
    const expected = await seeded(agent);
    const gc = inst.run(['gc', '--grace', '0s', '--delete-untagged'], { STOWAGE_CRASH_AT: point });
    await exited(gc);
    expect(gc.signalCode, `stowage gc was to die at ${point}: ${inst.stderr.join('\n')}`).toBe('SIGKILL');
    await checkAll(agent, expected);
    // The server started again, and a collection run to its end: still whole.
    await restart();
    const again = inst.run(['gc', '--grace', '0s', '--delete-untagged']);
    expect(await exited(again), inst.stderr.join('\n')).toBe(0);
    await checkAll(agent, expected);
    await kill(server!);
    server = undefined;
    await inst.remove();
  });
});
