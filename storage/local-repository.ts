// A repository served from this registry's own storage: the Repository interface
// (storage/repository.ts) over the shared blob, upload and manifest stores, bound to one name.
// Cheap to make (one per request): it holds nothing but the name and the stores.
import type { Readable, Writable } from 'node:stream';
import { RegistryError } from '../errors/registry-error.js';
import type { BlobStore } from './blobs.js';
import type { Catalog } from './catalog.js';
import type { ManifestStore } from './manifests.js';
import type { UploadStore } from './uploads.js';
import type {
  BlobStat,
  ByteRange,
  ChunkOptions,
  OpenedBlob,
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
  ) {
    const { blobs, uploads, manifests, catalog } = stores;
    this.blobs = {
      stat: async (digest: string): Promise<BlobStat> => ({ size: (await blobs.stat(name, digest)).size, stored: true }),
      open: async (digest: string): Promise<OpenedBlob> => ({ stored: true, size: (await blobs.stat(name, digest)).size }),
      copyTo: (digest: string, destination: Writable, range?: ByteRange) => blobs.copyTo(name, digest, destination, range),
      redirectURL: (digest: string) => blobs.redirectURL(name, digest),
      mount: (from: string, digest: string) => blobs.mount(name, from, digest),
      delete: (digest: string) => blobs.unlink(name, digest),
    };
    this.uploads = {
      start: () => uploads.start(name),
      status: (id: string) => uploads.status(name, id),
      append: (id: string, source: Readable, options?: ChunkOptions) => uploads.append(name, id, source, options),
      finish: (id: string, digest: string, source?: Readable, options?: ChunkOptions) => uploads.finish(name, id, digest, source, options),
      cancel: (id: string) => uploads.cancel(name, id),
      putMonolithic: (digest: string, source: Readable, signal?: AbortSignal) => uploads.putMonolithic(name, digest, source, signal),
    };
    this.manifests = {
      get: (reference: string) => manifests.get(name, reference),
      stat: (reference: string) => manifests.get(name, reference),
      put: (reference: string, bytes: Buffer, contentType: string | undefined) => manifests.put(name, reference, bytes, contentType),
      delete: (reference: string) => manifests.delete(name, reference),
    };
    this.tags = {
      list: async () => {
        const tags = await manifests.listTags(name);
        if (tags.length === 0 && !(await catalog.exists(name))) throw new RegistryError('NAME_UNKNOWN', undefined, { detail: { name } });
        return tags;
      },
    };
    this.referrers = {
      list: (subject: string, artifactType?: string) => manifests.referrers(name, subject, artifactType),
    };
  }
}
