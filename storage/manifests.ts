// Manifests, tags and referrers of a repository. Manifest bytes live once in the content store;
// a repository holds revision links (with the media type it was pushed as), tags point at
// revisions, and a manifest with a subject leaves a referrer entry under that subject.
import type { StorageDriver } from './driver.js';
import { RegistryError, isNotFound } from './errors.js';
import { RegistryCache, ownedBytes, type CachedManifest } from './cache.js';
import { digestOfBytes } from './hashing.js';
import { assertDigest, assertTag, isDigestReference, isValidTag, parseDigest } from './grammar.js';
import {
  manifestRevisionDirKey,
  manifestRevisionKey,
  manifestRevisionsPrefix,
  referrerDigestFromEntry,
  referrerKey,
  referrersPrefix,
  tagCurrentLinkKey,
  tagKey,
  tagsPrefix,
} from './layout.js';
import { parseManifest, MAX_MANIFEST_BYTES, MEDIA_TYPES, type Descriptor } from './manifest-format.js';
import type { BlobStore } from './blobs.js';

interface RevisionRecord {
  digest: string;
  mediaType: string;
  size: number;
  subject?: string;
}

export interface PutManifestResult {
  digest: string;
  subject?: string;
}

export class ManifestStore {
  constructor(
    private readonly driver: StorageDriver,
    private readonly blobs: BlobStore,
    private readonly cache: RegistryCache,
  ) {}

  /** The digest a tag points at. Throws MANIFEST_UNKNOWN. */
  async resolveTag(name: string, tag: string): Promise<string> {
    // A reference outside the tag grammar names no manifest: 404, as a pull of any unknown
    // reference answers (distribution-spec "Pulling manifests"); only a push answers TAG_INVALID.
    if (!isValidTag(tag)) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { name, tag: tag.slice(0, 200) } });
    const cacheKey = RegistryCache.tagKey(name, tag);
    const cached = this.cache.tags.get(cacheKey);
    if (cached) return cached;
    let digest: string;
    try {
      digest = (await this.driver.getContent(tagCurrentLinkKey(name, tag))).toString('utf8').trim();
    } catch (err) {
      if (isNotFound(err)) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { name, tag } });
      throw err;
    }
    assertDigest(digest);
    this.cache.tags.set(cacheKey, digest);
    return digest;
  }

  /** The manifest under a tag or digest, bytes as pushed. Throws MANIFEST_UNKNOWN. */
  async get(name: string, reference: string): Promise<CachedManifest> {
    const digest = isDigestReference(reference) ? assertDigest(reference) && reference : await this.resolveTag(name, reference);
    const cacheKey = RegistryCache.contentKey(name, digest);
    const cached = this.cache.manifests.get(cacheKey);
    if (cached) return cached;
    const revision = await this.readRevision(name, digest);
    if (!revision) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { name, reference } });
    let bytes: Buffer;
    try {
      bytes = await this.blobs.readGlobal(digest);
    } catch (err) {
      if (isNotFound(err)) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { name, reference } });
      throw err;
    }
    const manifest: CachedManifest = { digest, mediaType: revision.mediaType, bytes: ownedBytes(bytes) };
    this.cache.manifests.set(cacheKey, manifest);
    return manifest;
  }

  async has(name: string, digest: string): Promise<boolean> {
    if (this.cache.manifests.has(RegistryCache.contentKey(name, digest))) return true;
    return (await this.readRevision(name, digest)) !== undefined;
  }

  /**
   * Validates and stores a manifest under a tag or its digest. Every blob and child manifest it
   * names must already be in the repository (MANIFEST_BLOB_UNKNOWN), unless checkReferences is
   * false: a pull-through cache stores a manifest before (or without) the blobs it names.
   */
  async put(
    name: string,
    reference: string,
    bytes: Buffer,
    contentType: string | undefined,
    options: { checkReferences?: boolean } = {},
  ): Promise<PutManifestResult> {
    if (bytes.length > MAX_MANIFEST_BYTES) {
      throw new RegistryError('SIZE_INVALID', 'manifest too large', { status: 413, detail: { limit: MAX_MANIFEST_BYTES } });
    }
    const byDigest = isDigestReference(reference);
    const algorithm = byDigest ? assertDigest(reference).algorithm : 'sha256';
    if (!byDigest) assertTag(reference);
    const digest = digestOfBytes(bytes, algorithm);
    if (byDigest && digest !== reference) {
      throw new RegistryError('DIGEST_INVALID', 'manifest digest does not match the reference', { detail: { reference, digest } });
    }
    const manifest = parseManifest(bytes, contentType);
    if (options.checkReferences !== false) await this.checkReferences(name, manifest.blobs, manifest.manifests);

    await this.blobs.putSmall(digest, bytes);
    const revision: RevisionRecord = { digest, mediaType: manifest.mediaType, size: bytes.length };
    if (manifest.subject) revision.subject = manifest.subject.digest;
    await this.driver.putContent(manifestRevisionKey(name, digest), JSON.stringify(revision));
    if (manifest.subject) {
      const descriptor: Descriptor = { mediaType: manifest.mediaType, digest, size: bytes.length };
      if (manifest.artifactType) descriptor.artifactType = manifest.artifactType;
      if (manifest.annotations) descriptor.annotations = manifest.annotations;
      await this.driver.putContent(referrerKey(name, manifest.subject.digest, digest), JSON.stringify(descriptor));
    }
    this.cache.manifests.set(RegistryCache.contentKey(name, digest), { digest, mediaType: manifest.mediaType, bytes: ownedBytes(bytes) });
    if (!byDigest) await this.tag(name, reference, digest);
    this.cache.invalidateCatalog();
    return { digest, subject: manifest.subject?.digest };
  }

  /** Points a tag at a manifest revision the repository holds. */
  async tag(name: string, tag: string, digest: string): Promise<void> {
    await this.driver.putContent(tagCurrentLinkKey(name, tag), digest);
    this.cache.tags.set(RegistryCache.tagKey(name, tag), digest);
    this.cache.listings.delete(this.tagsListingKey(name));
  }

  /**
   * Deletes by digest (the revision, every tag pointing at it, its referrer entry) or by tag
   * (the tag only). Throws MANIFEST_UNKNOWN.
   */
  async delete(name: string, reference: string): Promise<void> {
    if (!isDigestReference(reference)) {
      await this.resolveTag(name, reference);
      await this.driver.delete(tagKey(name, reference));
      this.cache.tags.delete(RegistryCache.tagKey(name, reference));
      this.cache.listings.delete(this.tagsListingKey(name));
      return;
    }
    assertDigest(reference);
    const revision = await this.readRevision(name, reference);
    if (!revision) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { name, reference } });
    for (const tag of await this.listTags(name)) {
      const target = await this.resolveTag(name, tag).catch(() => undefined);
      if (target === reference) {
        await this.driver.delete(tagKey(name, tag));
        this.cache.tags.delete(RegistryCache.tagKey(name, tag));
      }
    }
    if (revision.subject) await this.driver.delete(referrerKey(name, revision.subject, reference));
    await this.driver.delete(manifestRevisionDirKey(name, reference));
    this.cache.manifests.delete(RegistryCache.contentKey(name, reference));
    this.cache.listings.delete(this.tagsListingKey(name));
  }

  /** Tags of a repository, sorted lexically. */
  async listTags(name: string): Promise<string[]> {
    const key = this.tagsListingKey(name);
    const cached = this.cache.listings.get(key);
    if (cached) return cached;
    const tags = (await this.driver.list(tagsPrefix(name))).sort(compareLexically);
    this.cache.listings.set(key, tags);
    return tags;
  }

  /** Digests of the manifest revisions a repository holds. */
  async listRevisions(name: string): Promise<string[]> {
    const digests: string[] = [];
    const prefix = manifestRevisionsPrefix(name);
    for (const algorithm of await this.driver.list(prefix)) {
      for (const hex of await this.driver.list(`${prefix}/${algorithm}`)) digests.push(`${algorithm}:${hex}`);
    }
    return digests;
  }

  /** Descriptors of the manifests whose subject is digest, optionally of one artifactType. */
  async referrers(name: string, subject: string, artifactType?: string): Promise<Descriptor[]> {
    const prefix = referrersPrefix(name, subject);
    const result: Descriptor[] = [];
    for (const entry of await this.driver.list(prefix)) {
      const digest = referrerDigestFromEntry(entry);
      // Not an entry this layout writes (a temporary file older versions left beside one).
      if (!parseDigest(digest)) continue;
      let descriptor: Descriptor;
      try {
        descriptor = JSON.parse((await this.driver.getContent(referrerKey(name, subject, digest))).toString('utf8')) as Descriptor;
      } catch (err) {
        if (isNotFound(err)) continue;
        throw err;
      }
      if (artifactType === undefined || descriptor.artifactType === artifactType) result.push(descriptor);
    }
    return result;
  }

  private async readRevision(name: string, digest: string): Promise<RevisionRecord | undefined> {
    try {
      const raw = await this.driver.getContent(manifestRevisionKey(name, digest));
      return JSON.parse(raw.toString('utf8')) as RevisionRecord;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async checkReferences(name: string, blobs: Descriptor[], manifests: Descriptor[]): Promise<void> {
    // A 4 MiB manifest can name tens of thousands of descriptors: each digest is looked up once,
    // a few at a time, and the error names at most MAX_MISSING_IN_DETAIL of those missing.
    const checks = [
      ...[...new Set(blobs.map((d) => d.digest))].map((digest) => () => this.blobs.has(name, digest).then((ok) => (ok ? undefined : digest))),
      ...[...new Set(manifests.map((d) => d.digest))].map((digest) => () => this.has(name, digest).then((ok) => (ok ? undefined : digest))),
    ];
    const missing: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < checks.length && missing.length < MAX_MISSING_IN_DETAIL) {
        const absent = await checks[next++]();
        if (absent) missing.push(absent);
      }
    };
    await Promise.all(Array.from({ length: Math.min(REFERENCE_CHECK_CONCURRENCY, checks.length) }, worker));
    if (missing.length > 0) {
      throw new RegistryError('MANIFEST_BLOB_UNKNOWN', undefined, { detail: { digests: missing.sort() } });
    }
  }

  private tagsListingKey(name: string): string {
    return `tags:${name}`;
  }
}

/** Lookups of a manifest's references in flight at once. */
const REFERENCE_CHECK_CONCURRENCY = 16;
/** Missing references named in a MANIFEST_BLOB_UNKNOWN detail; the check stops there. */
const MAX_MISSING_IN_DETAIL = 100;

/** Byte-wise order, as the spec's "lexical" ordering of tags and repositories. */
export function compareLexically(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export { MEDIA_TYPES };
