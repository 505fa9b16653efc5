// The torture test of online garbage collection (issue: no acknowledged image is ever lost).
// Eight clients push for a bounded time: fresh images, chunked and monolithic uploads, layers
// reused by HEAD-then-skip and by cross-repository mounts, one push in four deleting an old image
// and reusing its layer, indexes of child manifests, tags moved, a new repository every few
// pushes. Beside them two collection loops run with no grace period, as the server's schedule
// (the same storage) and as `stowage gc` in another process would (a second storage over the
// same data), alternating plain and deleteUntagged runs. Afterwards every tag last answered 201
// must point at what it was set to, and every manifest and blob it reaches is pulled and re-hashed.
//
// With no grace period a blob nobody references yet is only safe from the collection running
// while it arrives, so some pushes fail (MANIFEST_BLOB_UNKNOWN) and are counted, never verified.
import { describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { useTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { asBytes, putManifest, sendBytes } from '../helpers/registry-client.js';
import { blobOf, digestOf, ociIndex, ociManifest, randomBlob, type Blob, type Manifest } from '../helpers/content.js';
import { collectGarbage } from '../../storage/gc.js';
import { RegistryStorage } from '../../storage/registry.js';

const SECONDS = Number(process.env.STOWAGE_TORTURE_SECONDS ?? 20);
const PUSHERS = 8;

/** A small deterministic PRNG (mulberry32), so a failing run can be replayed by its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Expected {
  /** repository:tag -> the manifest the last 201 set it to */
  tags: Map<string, { name: string; tag: string; manifest: Manifest; blobs: Blob[]; children: Manifest[] }>;
  acknowledged: number;
  failed: Map<string, number>;
}

class Pusher {
  private repo = 0;
  private pushes = 0;
  private serial = 0;
  /** Images this client pushed and may delete later: their layers are the ones it reuses. */
  private readonly mine: Array<{ name: string; manifest: Manifest; layers: Blob[]; tag: string }> = [];

  constructor(
    private readonly reg: TestRegistry,
    private readonly id: number,
    private readonly random: () => number,
    private readonly expected: Expected,
    /** Layers any client pushed, with a repository that holds them (for mounts). */
    private readonly shared: Array<{ name: string; blob: Blob }>,
  ) {}

  private get name(): string {
    return `p${this.id}/r${this.repo}`;
  }

  private fail(why: string): void {
    this.expected.failed.set(why, (this.expected.failed.get(why) ?? 0) + 1);
  }

  private async upload(name: string, blob: Blob): Promise<boolean> {
    const request = this.reg.request;
    if (this.random() < 0.5) {
      const res = await request.post(`/v2/${name}/blobs/uploads/?digest=${blob.digest}`).set('Content-Type', 'application/octet-stream').send(blob.bytes);
      if (res.status !== 201) this.fail(`monolithic ${res.status} ${res.body?.errors?.[0]?.code ?? ''}`);
      return res.status === 201;
    }
    const start = await request.post(`/v2/${name}/blobs/uploads/`);
    if (start.status !== 202) return false;
    const half = blob.bytes.length >> 1;
    const patch = await sendBytes(request.patch(start.headers.location).set('Content-Type', 'application/octet-stream'), blob.bytes.subarray(0, half));
    if (patch.status !== 202) return false;
    const put = await sendBytes(
      request.put(`${patch.headers.location}${patch.headers.location.includes('?') ? '&' : '?'}digest=${blob.digest}`).set('Content-Type', 'application/octet-stream'),
      blob.bytes.subarray(half),
    );
    if (put.status !== 201) this.fail(`chunked ${put.status} ${put.body?.errors?.[0]?.code ?? ''}`);
    return put.status === 201;
  }

  /** Makes the layer available in name the way docker does: HEAD, else mount, else upload. */
  private async reuse(name: string, layer: { name: string; blob: Blob }): Promise<boolean> {
    const head = await this.reg.request.head(`/v2/${name}/blobs/${layer.blob.digest}`);
    if (head.status === 200) return true;
    const mount = await this.reg.request.post(`/v2/${name}/blobs/uploads/?mount=${layer.blob.digest}&from=${layer.name}`);
    if (mount.status === 201) return true;
    return this.upload(name, layer.blob);
  }

  private async putManifest(name: string, reference: string, manifest: Manifest): Promise<boolean> {
    const res = await putManifest(this.reg, name, reference, manifest.bytes, manifest.mediaType);
    if (res.status !== 201) this.fail(`manifest ${res.status} ${res.body?.errors?.[0]?.code ?? ''}`);
    return res.status === 201;
  }

  private newLayer(): Blob {
    return randomBlob(512 + Math.floor(this.random() * 4096), this.id * 1_000_000 + this.serial++);
  }

  private newConfig(): Blob {
    return blobOf(JSON.stringify({ architecture: 'amd64', os: 'linux', pusher: this.id, serial: this.serial++ }));
  }

  /** One image: fresh layers, perhaps a layer another client pushed, pushed under tag. */
  private async image(name: string, extraLayer?: { name: string; blob: Blob }): Promise<{ manifest: Manifest; blobs: Blob[]; layers: Blob[] } | undefined> {
    const config = this.newConfig();
    const layers = [this.newLayer()];
    for (const blob of [config, ...layers]) if (!(await this.upload(name, blob))) return undefined;
    if (extraLayer) {
      if (!(await this.reuse(name, extraLayer))) return undefined;
      layers.push(extraLayer.blob);
    }
    return { manifest: ociManifest(config, layers), blobs: [config, ...layers], layers };
  }

  private record(name: string, tag: string, manifest: Manifest, blobs: Blob[], children: Manifest[] = []): void {
    this.expected.tags.set(`${name}:${tag}`, { name, tag, manifest, blobs, children });
    this.expected.acknowledged++;
  }

  async step(): Promise<void> {
    if (this.pushes++ % 3 === 0) this.repo++;
    const name = this.name;
    const roll = this.random();
    const tag = this.random() < 0.3 ? 'latest' : `v${this.serial}`;
    if (roll < 0.25 && this.mine.length > 0) {
      // Delete an old image, then push a new one that reuses its layer (HEAD, then mount).
      const old = this.mine.splice(Math.floor(this.random() * this.mine.length), 1)[0];
      const del = await this.reg.request.delete(`/v2/${old.name}/manifests/${old.manifest.digest}`);
      if (del.status === 202) {
        for (const [key, entry] of this.expected.tags) if (entry.name === old.name && entry.manifest.digest === old.manifest.digest) this.expected.tags.delete(key);
      }
      const built = await this.image(name, { name: old.name, blob: old.layers[0] });
      if (built && (await this.putManifest(name, tag, built.manifest))) {
        this.record(name, tag, built.manifest, built.blobs);
        this.mine.push({ name, manifest: built.manifest, layers: built.layers, tag });
      }
      return;
    }
    if (roll < 0.4) {
      // An index of two platform manifests pushed by digest, then the index under a tag.
      const children: Manifest[] = [];
      const blobs: Blob[] = [];
      for (let i = 0; i < 2; i++) {
        const built = await this.image(name);
        if (!built || !(await this.putManifest(name, built.manifest.digest, built.manifest))) return;
        children.push(built.manifest);
        blobs.push(...built.blobs);
      }
      const index = ociIndex(children);
      if (await this.putManifest(name, tag, index)) this.record(name, tag, index, blobs, children);
      return;
    }
    const reused = this.shared.length > 0 && this.random() < 0.5 ? this.shared[Math.floor(this.random() * this.shared.length)] : undefined;
    const built = await this.image(name, reused);
    if (!built) return;
    if (await this.putManifest(name, tag, built.manifest)) {
      this.record(name, tag, built.manifest, built.blobs);
      this.mine.push({ name, manifest: built.manifest, layers: built.layers, tag });
      this.shared.push({ name, blob: built.layers[0] });
      if (this.shared.length > 200) this.shared.shift();
    }
  }
}

async function collectLoop(storage: RegistryStorage, until: number, counts: { runs: number; busy: number; deleted: number }, random: () => number): Promise<void> {
  while (Date.now() < until) {
    try {
      const report = await collectGarbage(storage, { gracePeriodMs: 0, deleteUntagged: random() < 0.5 });
      counts.runs++;
      counts.deleted += report.blobsDeleted.length + report.manifestsDeleted.length;
    } catch (err) {
      if ((err as Error).name !== 'GcBusyError') throw err;
      counts.busy++;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

async function verify(reg: TestRegistry, expected: Expected): Promise<string[]> {
  const problems: string[] = [];
  const pulled = async (path: string, digest: string, what: string) => {
    const res = await asBytes(reg.request.get(path));
    if (res.status !== 200) problems.push(`${what}: ${res.status}`);
    else if (digestOf(res.body as Buffer) !== digest) problems.push(`${what}: content does not hash to ${digest}`);
  };
  for (const { name, tag, manifest, blobs, children } of expected.tags.values()) {
    const res = await asBytes(reg.request.get(`/v2/${name}/manifests/${tag}`));
    if (res.status !== 200) {
      problems.push(`${name}:${tag}: ${res.status}`);
      continue;
    }
    if (digestOf(res.body as Buffer) !== manifest.digest) problems.push(`${name}:${tag} points at ${digestOf(res.body as Buffer)}, not ${manifest.digest}`);
    for (const child of children) await pulled(`/v2/${name}/manifests/${child.digest}`, child.digest, `${name}@${child.digest}`);
    for (const blob of blobs) await pulled(`/v2/${name}/blobs/${blob.digest}`, blob.digest, `${name} blob ${blob.digest}`);
  }
  return problems;
}

describe.each(DRIVERS)('garbage collection torture on $name', (factory) => {
  const registry = useTestRegistry(factory);

  it(`loses nothing acknowledged while ${PUSHERS} clients push and two collectors loop for ${SECONDS} s`, { timeout: (SECONDS + 120) * 1000 }, async () => {
    const reg = registry();
    const seed = Number(process.env.STOWAGE_TORTURE_SEED ?? Date.now() % 100_000);
    const random = prng(seed);
    const expected: Expected = { tags: new Map(), acknowledged: 0, failed: new Map() };
    const shared: Array<{ name: string; blob: Blob }> = [];
    const until = Date.now() + SECONDS * 1000;
    const pushers = Array.from({ length: PUSHERS }, (_, i) => new Pusher(reg, i, prng(seed * 31 + i), expected, shared));
    const counts = { runs: 0, busy: 0, deleted: 0 };
    // "stowage gc" in another process: its own storage, caches and all, over the same data.
    const cli = new RegistryStorage(reg.backend.driver());
    await Promise.all([
      ...pushers.map(async (p) => {
        while (Date.now() < until) await p.step();
      }),
      collectLoop(reg.storage, until, counts, random),
      collectLoop(cli, until, counts, prng(seed + 7)),
    ]);
    // One last collection after the pushes, then everything acknowledged must still pull.
    await collectGarbage(cli, { gracePeriodMs: 0, deleteUntagged: true });

    const problems = await verify(reg, expected);
    const summary = { seed, acknowledged: expected.acknowledged, tagsChecked: expected.tags.size, collections: counts, failedPushes: Object.fromEntries(expected.failed) };
    expect(problems, JSON.stringify(summary)).toEqual([]);
    // The run must have done something worth checking.
    expect(expected.acknowledged, JSON.stringify(summary)).toBeGreaterThan(50);
    expect(counts.runs, JSON.stringify(summary)).toBeGreaterThanOrEqual(2);
    expect(counts.deleted, JSON.stringify(summary)).toBeGreaterThan(0);
    console.log(`gc torture (${factory.name}): ${JSON.stringify(summary)}`);
  });
});
