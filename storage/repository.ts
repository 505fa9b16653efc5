// What a repository holds and how it changes, as one interface. The HTTP handlers, the web UI and
// the policies ask a Repository, never the stores or the driver behind it. Local storage
// implements it (storage/local-repository.ts); the pull-through proxy (proxy/) and webhook
// notifications (notifications/) are decorators around it, as in Distribution's
// registry/proxy and notifications packages.
import type { Readable, Writable } from 'node:stream';
import type { ByteRange } from './drivers/driver.js';
import type { CachedManifest } from './cache.js';
import type { Descriptor } from './manifest-format.js';
import type { BlobInfo } from './blobs.js';
import type { UploadStatus } from './uploads.js';
import type { PutManifestResult } from './manifests.js';
import type { Page, PageRequest } from './metadata/metadata-store.js';
import type { DigestAlgorithm } from './grammar.js';

export type { ByteRange, BlobInfo, CachedManifest, DigestAlgorithm, Descriptor, Page, PageRequest, PutManifestResult, UploadStatus };

/** What a HEAD of a blob learns. */
export interface BlobStat {
  /** Undefined when not known yet (a proxied blob whose upstream sent no length). */
  size?: number;
  /** True when the bytes are in storage: ranges, redirects and long caching apply. */
  stored: boolean;
}

/**
 * A blob opened for reading. Stored bytes are read with copyTo (ranges allowed); bytes still
 * arriving (a pull-through fill) come as a stream of the whole blob.
 */
export type OpenedBlob = { stored: true; size: number } | { stored: false; size?: number; stream: Readable };

export interface RepositoryBlobs {
  /** Throws BLOB_UNKNOWN. */
  stat(digest: string): Promise<BlobStat>;
  /** Throws BLOB_UNKNOWN. */
  open(digest: string): Promise<OpenedBlob>;
  /** Copies a stored blob (or one range of it) to destination; returns the bytes written. */
  copyTo(digest: string, destination: Writable, range?: ByteRange): Promise<number>;
  /** A URL the client may fetch the stored bytes from directly, when the storage has one. */
  redirectURL(digest: string): Promise<string | undefined>;
  /** Links a blob another repository holds into this one (cross-repository mount); undefined when it cannot. */
  mount(from: string, digest: string): Promise<BlobInfo | undefined>;
  /** Unlinks the blob from this repository (Throws BLOB_UNKNOWN). */
  delete(digest: string): Promise<void>;
}

export interface ChunkOptions {
  /** Where the chunk claims to start (Content-Range); it must be where the upload ends. */
  start?: number;
  signal?: AbortSignal;
}

export interface RepositoryUploads {
  /** algorithm: the digest the client will finish with (?digest-algorithm=), hashed as bytes arrive. */
  start(options?: { algorithm?: DigestAlgorithm }): Promise<UploadStatus>;
  status(id: string): Promise<UploadStatus>;
  append(id: string, source: Readable, options?: ChunkOptions): Promise<UploadStatus>;
  finish(id: string, digest: string, source?: Readable, options?: ChunkOptions): Promise<BlobInfo>;
  cancel(id: string): Promise<void>;
  /** A whole blob in one request, checked against its digest before it becomes visible. */
  putMonolithic(digest: string, source: Readable, signal?: AbortSignal): Promise<BlobInfo>;
}

export interface RepositoryManifests {
  /** The manifest by tag or digest, bytes as pushed (a pull). Throws MANIFEST_UNKNOWN. */
  get(reference: string): Promise<CachedManifest>;
  /** The same manifest for a HEAD: not a pull. Throws MANIFEST_UNKNOWN. */
  stat(reference: string): Promise<CachedManifest>;
  /**
   * Stores a manifest under a tag or digest; options.tags (?tag=, end-7b) are pointed at it too.
   * A tag that may not be written refuses the whole push before anything is stored.
   */
  put(reference: string, bytes: Buffer, contentType: string | undefined, options?: { tags?: string[] }): Promise<PutManifestResult>;
  /** Deletes a tag, or a manifest by digest with the tags on it. */
  delete(reference: string): Promise<void>;
}

export interface RepositoryTags {
  /** Every tag, sorted lexically. Throws NAME_UNKNOWN when the repository does not exist. */
  list(): Promise<string[]>;
  /** Tags after page.last, at most page.n, sorted lexically. Throws NAME_UNKNOWN likewise. */
  page(page: PageRequest): Promise<Page<string>>;
}

export interface RepositoryReferrers {
  /** Descriptors of the manifests whose subject is the digest, optionally of one artifact type. */
  list(subject: string, artifactType?: string): Promise<Descriptor[]>;
}

export interface Repository {
  /** The repository's name in storage. */
  readonly name: string;
  readonly blobs: RepositoryBlobs;
  readonly uploads: RepositoryUploads;
  readonly manifests: RepositoryManifests;
  readonly tags: RepositoryTags;
  readonly referrers: RepositoryReferrers;
}

/** Hands out repositories by (checked) name, and lists the ones that exist. */
export interface Registry {
  repository(name: string, context?: RepositoryContext): Repository;
  /** Every repository, sorted lexically. */
  repositories(): Promise<string[]>;
  /** Repositories after page.last, at most page.n, sorted lexically (at the page's cost). */
  repositoriesPage(page: PageRequest): Promise<Page<string>>;
}

/** Who a repository is opened for: recorded with what they push. */
export interface RepositoryContext {
  actor?: string;
}
