// A registry client that pushes like a busy CI fleet, for the garbage-collection torture and
// crash tests: fresh images by chunked and monolithic uploads, layers reused by HEAD-then-skip
// and by cross-repository mounts, one push in four deleting an old image and reusing its layer,
// indexes of child manifests pushed by digest, tags moved, a new repository every few pushes.
// It records what each 201 promised; verify() pulls all of it back and re-hashes it.
import type supertest from 'supertest';
import { asBytes, sendBytes } from './registry-client.js';
import { ACCEPT_ALL, blobOf, digestOf, ociIndex, ociManifest, randomBlob, type Blob, type Manifest } from './content.js';

type Agent = ReturnType<typeof supertest>;

/** A small deterministic PRNG (mulberry32), so a failing run can be replayed by its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Expected {
  /** repository:tag -> the manifest the last 201 set it to */
  tags: Map<string, { name: string; tag: string; manifest: Manifest; blobs: Blob[]; children: Manifest[] }>;
  acknowledged: number;
  failed: Map<string, number>;
}

export class Pusher {
  private repo = 0;
  private pushes = 0;
  private serial = 0;
  /** Images this client pushed and may delete later: their layers are the ones it reuses. */
  private readonly mine: Array<{ name: string; manifest: Manifest; layers: Blob[]; tag: string }> = [];

  constructor(
    /** Where to send requests; a function, since a restarted server may be a new agent. */
    private readonly agent: () => Agent,
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
    const request = this.agent();
    if (this.random() < 0.5) {
      const res = await request
        .post(`/v2/${name}/blobs/uploads/?digest=${blob.digest}`)
        .set('Content-Type', 'application/octet-stream')
        .send(blob.bytes);
      if (res.status !== 201) this.fail(`monolithic ${res.status} ${res.body?.errors?.[0]?.code ?? ''}`);
      return res.status === 201;
    }
    const start = await request.post(`/v2/${name}/blobs/uploads/`);
    if (start.status !== 202) return false;
    const half = blob.bytes.length >> 1;
    const patch = await sendBytes(
      request.patch(start.headers.location).set('Content-Type', 'application/octet-stream'),
      blob.bytes.subarray(0, half),
    );
    if (patch.status !== 202) return false;
    const put = await sendBytes(
      request
        .put(`${patch.headers.location}${patch.headers.location.includes('?') ? '&' : '?'}digest=${blob.digest}`)
        .set('Content-Type', 'application/octet-stream'),
      blob.bytes.subarray(half),
    );
    if (put.status !== 201) this.fail(`chunked ${put.status} ${put.body?.errors?.[0]?.code ?? ''}`);
    return put.status === 201;
  }

  /** Makes the layer available in name the way docker does: HEAD, else mount, else upload. */
  private async reuse(name: string, layer: { name: string; blob: Blob }): Promise<boolean> {
    const head = await this.agent().head(`/v2/${name}/blobs/${layer.blob.digest}`);
    if (head.status === 200) return true;
    const mount = await this.agent().post(`/v2/${name}/blobs/uploads/?mount=${layer.blob.digest}&from=${layer.name}`);
    if (mount.status === 201) return true;
    return this.upload(name, layer.blob);
  }

  private async putManifest(name: string, reference: string, manifest: Manifest): Promise<boolean> {
    // Until the answer, the tag may point at the old or the new manifest: promise neither.
    if (!reference.includes(':')) this.expected.tags.delete(`${name}:${reference}`);
    const res = await sendBytes(this.agent().put(`/v2/${name}/manifests/${reference}`).set('Content-Type', manifest.mediaType), manifest.bytes);
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
  private async image(
    name: string,
    extraLayer?: { name: string; blob: Blob },
  ): Promise<{ manifest: Manifest; blobs: Blob[]; layers: Blob[] } | undefined> {
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

  /** One push (or delete and push); a request that fails counts as a failed push. */
  async step(): Promise<void> {
    try {
      await this.push();
    } catch (err) {
      this.fail(`error ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }

  private async push(): Promise<void> {
    if (this.pushes++ % 3 === 0) this.repo++;
    const name = this.name;
    const roll = this.random();
    const tag = this.random() < 0.3 ? 'latest' : `v${this.serial}`;
    if (roll < 0.25 && this.mine.length > 0) {
      // Delete an old image, then push a new one that reuses its layer (HEAD, then mount).
      const old = this.mine.splice(Math.floor(this.random() * this.mine.length), 1)[0];
      // Deleted from the promises first: a delete whose answer is lost may still have happened.
      for (const [key, entry] of this.expected.tags)
        if (entry.name === old.name && entry.manifest.digest === old.manifest.digest) this.expected.tags.delete(key);
      await this.agent().delete(`/v2/${old.name}/manifests/${old.manifest.digest}`);
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

export async function verify(request: Agent, expected: Expected): Promise<string[]> {
  const problems: string[] = [];
  const pulled = async (path: string, digest: string, what: string) => {
    const res = await asBytes(request.get(path));
    if (res.status !== 200) problems.push(`${what}: ${res.status}`);
    else if (digestOf(res.body as Buffer) !== digest) problems.push(`${what}: content does not hash to ${digest}`);
  };
  for (const { name, tag, manifest, blobs, children } of expected.tags.values()) {
    const res = await asBytes(request.get(`/v2/${name}/manifests/${tag}`));
    if (res.status !== 200) {
      problems.push(`${name}:${tag}: ${res.status}`);
      continue;
    }
    if (digestOf(res.body as Buffer) !== manifest.digest)
      problems.push(`${name}:${tag} points at ${digestOf(res.body as Buffer)}, not ${manifest.digest}`);
    for (const child of children) await pulled(`/v2/${name}/manifests/${child.digest}`, child.digest, `${name}@${child.digest}`);
    for (const blob of blobs) await pulled(`/v2/${name}/blobs/${blob.digest}`, blob.digest, `${name} blob ${blob.digest}`);
  }
  return problems;
}

/**
 * Everything the registry lists must be servable: every repository of _catalog, every tag of
 * its tags list, the manifest under it, its index children and every blob they name (HEAD). A
 * listed manifest whose blobs are missing is what a crash or a collection must never leave.
 */
export async function verifyListed(request: Agent): Promise<{ problems: string[]; tags: number }> {
  const problems: string[] = [];
  let tags = 0;
  const pages = async (path: string, key: string): Promise<string[]> => {
    const all: string[] = [];
    let last: string | undefined;
    for (;;) {
      const res = await request.get(path).query({ n: 500, ...(last === undefined ? {} : { last }) });
      if (res.status !== 200) {
        problems.push(`${path}: ${res.status}`);
        return all;
      }
      const items = (res.body as Record<string, string[] | null>)[key] ?? [];
      all.push(...items);
      if (!res.headers.link || items.length === 0) return all;
      last = items[items.length - 1];
    }
  };
  const checkManifest = async (name: string, reference: string, depth: number): Promise<void> => {
    const res = await asBytes(request.get(`/v2/${name}/manifests/${reference}`).set('Accept', ACCEPT_ALL));
    if (res.status !== 200) {
      problems.push(`listed ${name}:${reference}: ${res.status}`);
      return;
    }
    const doc = JSON.parse((res.body as Buffer).toString('utf8')) as {
      config?: { digest: string };
      layers?: { digest: string }[];
      manifests?: { digest: string }[];
    };
    for (const blob of [...(doc.config ? [doc.config] : []), ...(doc.layers ?? [])]) {
      const head = await request.head(`/v2/${name}/blobs/${blob.digest}`);
      if (head.status !== 200) problems.push(`listed ${name}:${reference} names blob ${blob.digest}: ${head.status}`);
    }
    if (depth < 2) for (const child of doc.manifests ?? []) await checkManifest(name, child.digest, depth + 1);
  };
  for (const name of await pages('/v2/_catalog', 'repositories')) {
    for (const tag of await pages(`/v2/${name}/tags/list`, 'tags')) {
      tags++;
      await checkManifest(name, tag, 0);
    }
  }
  return { problems, tags };
}
