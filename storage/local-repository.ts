// A repository served from this registry's own storage: the Repository interface
// (storage/repository.ts) over the shared blob, upload and manifest stores, bound to one name.
// Cheap to make (one per request): it holds nothing but the name and the stores.
import type { Readable, Writable } from 'node:stream';
import { RegistryError } from '../errors/registry-error.js';
import type { BlobStore } from './blobs.js';
import { isDigestReference } from './grammar.js';
import { digestOfBytes } from './hashing.js';
import type { Catalog } from './catalog.js';
import type { ManifestStore } from './manifests.js';
import type { UploadStore } from './uploads.js';
import type { PullRecorder } from './metadata/pull-recorder.js';
import type { Quotas } from './quotas.js';
import type {
  BlobInfo,
  BlobStat,
  CachedManifest,
  DigestAlgorithm,
  Descriptor,
  PutManifestResult,
  UploadStatus,
  ByteRange,
  ChunkOptions,
  OpenedBlob,
  Page,
  PageRequest,
  RepositoryContext,
  Repository,
  RepositoryBlobs,
  RepositoryManifests,
  RepositoryReferrers,
  RepositoryTags,
  RepositoryUploads,
} from './repository.js';

export interface LocalStores {
  blobs: BlobStore;
  uploads: UploadStore;
  manifests: ManifestStore;
  catalog: Catalog;
  /** Counts pulls for the metadata database, when there is one. */
  pulls?: PullRecorder;
  /** Storage limits: an upload into a repository whose quota is full is refused when it starts. */
  quotas?: Quotas;
}

// Each part is a small class with methods on its prototype: a repository is made per request, and
// this costs a few objects, not a closure per method.
class LocalBlobs implements RepositoryBlobs {
  constructor(
    private readonly name: string,
    private readonly store: BlobStore,
  ) {}
  async stat(digest: string): Promise<BlobStat> {
    return { size: (await this.store.stat(this.name, digest)).size, stored: true };
  }
  async open(digest: string): Promise<OpenedBlob> {
    return { stored: true, size: (await this.store.stat(this.name, digest)).size };
  }
  copyTo(digest: string, destination: Writable, range?: ByteRange): Promise<number> {
    return this.store.copyTo(this.name, digest, destination, range);
  }
  redirectURL(digest: string): Promise<string | undefined> {
    return this.store.redirectURL(this.name, digest);
  }
  mount(from: string, digest: string): Promise<BlobInfo | undefined> {
    return this.store.mount(this.name, from, digest);
  }
  delete(digest: string): Promise<void> {
    return this.store.unlink(this.name, digest);
  }
}

class LocalUploads implements RepositoryUploads {
  constructor(
    private readonly name: string,
    private readonly store: UploadStore,
    private readonly quotas: Quotas | undefined,
  ) {}
  // Only the start of an upload is checked (POST, or a monolithic POST ?digest=): its bytes are
  // not counted until a manifest references them, where the exact check is (storage/quotas.ts).
  async start(options: { algorithm?: DigestAlgorithm } = {}): Promise<UploadStatus> {
    if (this.quotas?.enabled) await this.quotas.admitUpload(this.name);
    return this.store.start(this.name, options.algorithm);
  }
  status(id: string): Promise<UploadStatus> {
    return this.store.status(this.name, id);
  }
  append(id: string, source: Readable, options?: ChunkOptions): Promise<UploadStatus> {
    return this.store.append(this.name, id, source, options);
  }
  finish(id: string, digest: string, source?: Readable, options?: ChunkOptions): Promise<BlobInfo> {
    return this.store.finish(this.name, id, digest, source, options);
  }
  cancel(id: string): Promise<void> {
    return this.store.cancel(this.name, id);
  }
  async putMonolithic(digest: string, source: Readable, signal?: AbortSignal): Promise<BlobInfo> {
    if (this.quotas?.enabled) await this.quotas.admitUpload(this.name);
    return this.store.putMonolithic(this.name, digest, source, signal);
  }
}

class LocalManifests implements RepositoryManifests {
  constructor(
    private readonly name: string,
    private readonly store: ManifestStore,
    private readonly actor: string | undefined,
    private readonly pulls: PullRecorder | undefined,
  ) {}
  async get(reference: string): Promise<CachedManifest> {
    const manifest = await this.store.get(this.name, reference);
    // A pull (a HEAD is a stat): counted in memory, written in batches (storage/metadata/pull-recorder.ts).
    this.pulls?.record(this.name, manifest.digest, reference === manifest.digest ? undefined : reference);
    return manifest;
  }
  stat(reference: string): Promise<CachedManifest> {
    return this.store.get(this.name, reference);
  }
  async put(reference: string, bytes: Buffer, contentType: string | undefined, options: { tags?: string[] } = {}): Promise<PutManifestResult> {
    const tags = options.tags ?? [];
    if (tags.length === 0) return this.store.put(this.name, reference, bytes, contentType, { actor: this.actor });
    // Every tag is checked (immutability) before the manifest is stored, so a refused one leaves nothing.
    const digest = isDigestReference(reference) ? reference : digestOfBytes(bytes);
    for (const tag of tags) await this.store.checkTagWrite(this.name, tag, digest);
    const result = await this.store.put(this.name, reference, bytes, contentType, { actor: this.actor });
    for (const tag of tags) await this.store.tag(this.name, tag, result.digest);
    return result;
  }
  delete(reference: string): Promise<void> {
    return this.store.delete(this.name, reference);
  }
}

class LocalTags implements RepositoryTags {
  constructor(
    private readonly name: string,
    private readonly store: ManifestStore,
    private readonly catalog: Catalog,
  ) {}
  async list(): Promise<string[]> {
    const tags = await this.store.listTags(this.name);
    if (tags.length === 0 && !(await this.catalog.exists(this.name)))
      throw new RegistryError('NAME_UNKNOWN', undefined, { detail: { name: this.name } });
    return tags;
  }
  async page(page: PageRequest): Promise<Page<string>> {
    const tags = await this.store.tagsPage(this.name, page);
    if (tags === undefined || (tags.items.length === 0 && !(await this.catalog.exists(this.name))))
      throw new RegistryError('NAME_UNKNOWN', undefined, { detail: { name: this.name } });
    return tags;
  }
}

class LocalReferrers implements RepositoryReferrers {
  constructor(
    private readonly name: string,
    private readonly store: ManifestStore,
  ) {}
  list(subject: string, artifactType?: string): Promise<Descriptor[]> {
    return this.store.referrers(this.name, subject, artifactType);
  }
}

export class LocalRepository implements Repository {
  readonly blobs: RepositoryBlobs;
  readonly uploads: RepositoryUploads;
  readonly manifests: RepositoryManifests;
  readonly tags: RepositoryTags;
  readonly referrers: RepositoryReferrers;

  constructor(
    readonly name: string,
    stores: LocalStores,
    context: RepositoryContext = {},
  ) {
    this.blobs = new LocalBlobs(name, stores.blobs);
    this.uploads = new LocalUploads(name, stores.uploads, stores.quotas);
    this.manifests = new LocalManifests(name, stores.manifests, context.actor, stores.pulls);
    this.tags = new LocalTags(name, stores.manifests, stores.catalog);
    this.referrers = new LocalReferrers(name, stores.manifests);
  }
}
