// Whether blobs are in storage, for a run over many manifests that share layers (reindex,
// verification): each digest found is remembered so that it costs one stat per run, up to a bound,
// past which the memory is dropped and stats start again (memory stays flat on any registry).
import type { RegistryStorage } from '../registry.js';

const REMEMBERED = 100_000;

export class BlobPresence {
  private readonly present = new Set<string>();

  constructor(private readonly storage: RegistryStorage) {}

  async has(digest: string): Promise<boolean> {
    if (this.present.has(digest)) return true;
    const found = (await this.storage.blobs.statGlobal(digest)) !== undefined;
    if (found) {
      if (this.present.size >= REMEMBERED) this.present.clear();
      this.present.add(digest);
    }
    return found;
  }

  /** The digests of those that are not there, in the order given. */
  async missing(digests: Iterable<string>): Promise<string[]> {
    const out: string[] = [];
    for (const digest of new Set(digests)) if (!(await this.has(digest))) out.push(digest);
    return out;
  }
}
