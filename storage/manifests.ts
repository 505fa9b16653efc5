// Manifests, tags and referrers of a repository. Manifest bytes live once in the content store;
// a repository holds revision links (with the media type it was pushed as), tags point at
// revisions, and a manifest with a subject leaves a referrer entry under that subject.
import type { StorageDriver } from './drivers/driver.js';
import { RegistryError } from '../errors/registry-error.js';
import { isNotFound } from './errors.js';
import { RegistryCache, ownedBytes, type CachedManifest } from './cache.js';
import { digestOfBytes } from './hashing.js';
import { assertDigest, assertTag, isDigestReference, isValidTag, parseDigest } from './grammar.js';
import { retainAll } from './liveness.js';
import {
  blobDataKey,
  manifestRevisionDirKey,
  manifestRevisionKey,
  manifestRevisionsPrefix,
  referrerDigestFromEntry,
  referrerKey,
  referrersPrefix,
  tagCurrentLinkKey,
  tagKey,
  tagsPrefix,
  type LayoutKind,
} from './layout.js';
import { parseManifest, MAX_MANIFEST_BYTES, MEDIA_TYPES, type Descriptor } from './manifest-format.js';
import type { BlobStore } from './blobs.js';
import type { MetadataStore, Page, PageRequest } from './metadata/metadata-store.js';
import { manifestFacts } from './metadata/facts.js';
import { crashPoint } from './crash-points.js';
import { KeyedLock } from './keyed-lock.js';
import { ImmutableTags, type MatchedRule } from './immutable-tags.js';
import { Quotas } from './quotas.js';
import { decodeRevision, encodeRevision, mediaTypeOfBytes, type RevisionRecord, type StoredRevision } from './revision-link.js';

/** Something a stored manifest needs in storage, and how to put it back if we hold its bytes. */
interface Dependency {
  key: string;
  digest: string;
  /** A push must fail if it is gone (a pull-through cache's blobs may legitimately be absent). */
  required: boolean;
  restore?: () => Promise<void>;
}

export interface PutManifestResult {
  digest: string;
  subject?: string;
}

export interface PutManifestOptions {
  /** False: a pull-through cache stores a manifest before (or without) the blobs it names. */
  checkReferences?: boolean;
  /** Who pushed it (recorded in the metadata database). */
  actor?: string;
  /** The pull-through cache storing what its upstream answered: no quota refuses it. */
  cache?: boolean;
}

export class ManifestStore {
  /** Tag listings being read, by repository: concurrent callers share one read. */
  private readonly tagReads = new Map<string, Promise<string[]>>();

  constructor(
    private readonly driver: StorageDriver,
    private readonly blobs: BlobStore,
    private readonly cache: RegistryCache,
    /** The metadata database, when there is one: listings come from it, pushes are recorded in it. */
    private readonly metadata?: MetadataStore,
    /** Whose tree this is: in a registry:2 tree, revision links are written as Distribution writes them. */
    private readonly layout: LayoutKind = 'stowage',
    /** Tags that never move nor go (`stowage.immutable`): enforced by put, tag and delete below. */
    private readonly immutable: ImmutableTags = new ImmutableTags(),
    /** Storage limits (`stowage.quotas`): put below checks and links under them. */
    private readonly quotas: Quotas = new Quotas(),
  ) {}

  /** Protected tags being written by this process, by repository and tag: one at a time. */
  private readonly tagWrites = new KeyedLock();

  // Immutable tags are enforced here, in the one write path of tags, not in a Repository
  // decorator: a push (put by tag), a delete (by tag, or by digest with its tags) and a retag
  // (storage/jobs/retag.ts, which works on this store, not on a Repository) all pass here.
  //
  // Invariant: a protected tag, once it points at a digest, points at it until the rules change.
  // Each write of a protected tag checks the tag's link in storage before writing anything, and
  // holds a per-tag lock from that check until its database commit, so in one process a second
  // writer sees the first one's tag. Across processes (replicas, `stowage retag` beside the
  // server) the metadata database decides: the tag row is written with refuseMove under the
  // repository's lock (storage/metadata/metadata-store.ts), so one writer commits and the other is
  // refused and puts storage's link back to the committed digest.

  /** Runs write alone among this process's writes of the same protected tag. */
  private underTagLock<T>(name: string, tag: string, write: () => Promise<T>): Promise<T> {
    return this.tagWrites.run(`${name}:${tag}`, write);
  }

  /** DENIED if the protected tag exists and points at another digest (read from storage, not a cache). */
  private async refuseMove(name: string, tag: string, digest: string, matched: MatchedRule): Promise<void> {
    const current = await this.readLink(tagCurrentLinkKey(name, tag));
    if (current !== undefined && current !== digest) throw ImmutableTags.refusal(name, tag, matched);
  }

  /**
   * After the database refused to move a protected tag another process wrote first: storage's
   * link goes back to the digest the database holds, and replicas are told.
   */
  private async restoreRefusedTag(name: string, tag: string): Promise<void> {
    const winner = await this.metadata?.tagTarget(name, tag);
    if (winner !== undefined) await this.driver.putContent(tagCurrentLinkKey(name, tag), winner);
    this.invalidateTag(name, tag);
    await this.metadata?.announce({ kind: 'tag', repository: name, tag }).catch(() => {});
  }

  /** Whether the tag of that repository is protected by a `stowage.immutable` rule. */
  isImmutable(name: string, tag: string): boolean {
    return this.immutable.ruleFor(name, tag) !== undefined;
  }

  /** Throws DENIED if pointing the tag at digest would move a protected tag: for a retag's early check. */
  async checkTagWrite(name: string, tag: string, digest: string): Promise<void> {
    const matched = this.immutable.ruleFor(name, tag);
    if (matched) await this.refuseMove(name, tag, digest, matched);
  }

  /** The digest a tag points at. Throws MANIFEST_UNKNOWN. */
  async resolveTag(name: string, tag: string): Promise<string> {
    // A reference outside the tag grammar names no manifest: 404, as a pull of any unknown
    // reference answers (distribution-spec "Pulling manifests"); only a push answers TAG_INVALID.
    if (!isValidTag(tag)) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { name, tag: tag.slice(0, 200) } });
    const cacheKey = RegistryCache.tagKey(name, tag);
    const cached = this.cache.tags.get(cacheKey);
    if (cached) return cached;
    const since = this.cache.stamp();
    let digest: string;
    try {
      digest = (await this.driver.getContent(tagCurrentLinkKey(name, tag))).toString('utf8').trim();
    } catch (err) {
      if (isNotFound(err)) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { name, tag } });
      throw err;
    }
    assertDigest(digest);
    this.cache.setTag(name, tag, digest, since);
    return digest;
  }

  /** The manifest under a tag or digest, bytes as pushed. Throws MANIFEST_UNKNOWN. */
  async get(name: string, reference: string): Promise<CachedManifest> {
    const digest = isDigestReference(reference) ? assertDigest(reference) && reference : await this.resolveTag(name, reference);
    const cacheKey = RegistryCache.contentKey(name, digest);
    const cached = this.cache.manifests.get(cacheKey);
    if (cached) return cached;
    const since = this.cache.stamp();
    const revision = await this.readRevision(name, digest);
    if (!revision) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { name, reference } });
    let bytes: Buffer;
    try {
      bytes = await this.blobs.readGlobal(digest);
    } catch (err) {
      if (isNotFound(err)) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { name, reference } });
      throw err;
    }
    // A bare-digest link (registry:2's) says no media type: the bytes do, as Distribution reads them.
    const mediaType = revision.mediaType ?? mediaTypeOfBytes(bytes);
    if (mediaType === undefined) throw new RegistryError('MANIFEST_UNKNOWN', 'stored manifest is not JSON', { detail: { name, reference } });
    const manifest: CachedManifest = { digest, mediaType, bytes: ownedBytes(bytes) };
    this.cache.setManifest(name, manifest, since);
    return manifest;
  }

  async has(name: string, digest: string): Promise<boolean> {
    // With a database, a manifest exists once its push completed there: an index may only name
    // children the database holds, or a collection could not see what the index reaches.
    if (this.metadata) return this.metadata.hasManifest(name, digest);
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
    options: PutManifestOptions = {},
  ): Promise<PutManifestResult> {
    // Quotas (storage/quotas.ts) check the blobs the manifest references before anything is
    // written, and hold their locks until the push is committed. A manifest that does not parse
    // is checked for nothing here: store refuses it with the right error.
    if (options.cache || !this.quotas.enabled) return this.putUnderRules(name, reference, bytes, contentType, options);
    return this.quotas.admitManifest(name, quotaBlobsOf(bytes, contentType), () => this.putUnderRules(name, reference, bytes, contentType, options));
  }

  private async putUnderRules(
    name: string,
    reference: string,
    bytes: Buffer,
    contentType: string | undefined,
    options: PutManifestOptions,
  ): Promise<PutManifestResult> {
    const matched = isDigestReference(reference) ? undefined : this.immutable.ruleFor(name, assertTag(reference));
    if (!matched) return this.store(name, reference, bytes, contentType, options);
    // Pushing the digest the tag already has is allowed: clients re-push.
    return this.underTagLock(name, reference, async () => {
      await this.refuseMove(name, reference, digestOfBytes(bytes, 'sha256'), matched);
      return this.store(name, reference, bytes, contentType, options, matched);
    });
  }

  private async store(
    name: string,
    reference: string,
    bytes: Buffer,
    contentType: string | undefined,
    options: PutManifestOptions,
    immutable?: MatchedRule,
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

    const strict = options.checkReferences !== false;
    await this.blobs.putSmall(digest, bytes);
    const revision = revisionOf(digest, bytes.length, manifest);
    await this.driver.putContent(manifestRevisionKey(name, digest), encodeRevision(revision, bytes, this.layout));
    let referrer: { key: string; content: string } | undefined;
    if (manifest.subject) {
      const descriptor: Descriptor = { mediaType: manifest.mediaType, digest, size: bytes.length };
      if (manifest.artifactType) descriptor.artifactType = manifest.artifactType;
      if (manifest.annotations) descriptor.annotations = manifest.annotations;
      referrer = { key: referrerKey(name, manifest.subject.digest, digest), content: JSON.stringify(descriptor) };
      await this.driver.putContent(referrer.key, referrer.content);
    }
    this.cache.setManifest(name, { digest, mediaType: manifest.mediaType, bytes: ownedBytes(bytes) });
    this.cache.invalidateCatalog();
    crashPoint('manifest-stored');
    // The database's reference (storage/metadata/metadata-store.ts): the row is written pending
    // before anything is retained, so a collection deciding meanwhile sees it; it is listed only
    // once the push has retained everything (commit below).
    const recorded = this.metadata
      ? await this.metadata.beginManifest(
          name,
          await manifestFacts(digest, bytes.length, manifest, (d) => this.readSmallBlob(d)),
          Date.now(),
          options.actor,
        )
      : undefined;
    crashPoint('manifest-recorded');
    const abandon = async () => {
      if (recorded?.created) await this.metadata!.abortManifest(recorded.id);
    };
    // Reference, then retain (storage/liveness.ts): the revision is written; everything it
    // depends on is retained before it is acknowledged, or the push fails and leaves nothing.
    let dependencies: Dependency[];
    let gone: string[];
    try {
      dependencies = await this.dependencies(name, { digest, bytes, mediaType: manifest.mediaType }, strict);
      if (referrer) {
        const { key, content } = referrer;
        dependencies.push({ key, digest, required: true, restore: () => this.driver.putContent(key, content) });
      }
      gone = await this.retainDependencies(dependencies);
    } catch (err) {
      await abandon();
      throw err;
    }
    if (gone.length > 0) {
      await abandon();
      if (referrer) await this.driver.delete(referrer.key);
      await this.driver.delete(manifestRevisionDirKey(name, digest));
      this.cache.forgetManifest(name, digest);
      throw collectedMeanwhile(gone);
    }
    crashPoint('manifest-retained');
    if (!byDigest) {
      try {
        await this.writeTag(name, reference, digest, dependencies);
      } catch (err) {
        await abandon();
        throw err;
      }
    }
    crashPoint('manifest-tagged');
    const refuseMove = immutable && ImmutableTags.refusal(name, reference, immutable);
    let committed = true;
    try {
      if (recorded)
        committed = await this.metadata!.commitManifest(name, recorded.id, { tag: byDigest ? undefined : reference, at: Date.now(), refuseMove });
    } catch (err) {
      if (err !== refuseMove) throw err;
      await abandon();
      await this.restoreRefusedTag(name, reference);
      throw err;
    }
    if (!committed) throw collectedMeanwhile([digest]);
    crashPoint('manifest-committed');
    return { digest, subject: manifest.subject?.digest };
  }

  /**
   * Points a tag at a manifest revision the repository holds. Strict (the default): everything the
   * manifest references must still be stored, or MANIFEST_BLOB_UNKNOWN and the tag is not moved;
   * a pull-through cache tags manifests whose blobs it has not fetched yet.
   */
  async tag(name: string, tag: string, digest: string, options: { strict?: boolean; cache?: boolean } = {}): Promise<void> {
    // cache: the pull-through cache following its upstream, whose tags are the upstream's to move.
    const matched = options.cache ? undefined : this.immutable.ruleFor(name, tag);
    if (!matched) return this.writeTagOf(name, tag, digest, options);
    return this.underTagLock(name, tag, async () => {
      await this.refuseMove(name, tag, digest, matched);
      await this.writeTagOf(name, tag, digest, options, matched);
    });
  }

  private async writeTagOf(name: string, tag: string, digest: string, options: { strict?: boolean }, immutable?: MatchedRule): Promise<void> {
    const strict = options.strict !== false;
    const manifest = await this.get(name, digest);
    const dependencies = await this.dependencies(name, manifest, strict);
    const gone = await this.retainDependencies(dependencies);
    if (gone.length > 0) throw collectedMeanwhile(gone);
    await this.writeTag(name, tag, digest, dependencies);
    const refuseMove = immutable && ImmutableTags.refusal(name, tag, immutable);
    let set = false;
    try {
      set = this.metadata !== undefined && (await this.metadata.setTag(name, tag, digest, Date.now(), refuseMove));
    } catch (err) {
      if (err !== refuseMove) throw err;
      await this.restoreRefusedTag(name, tag);
      throw err;
    }
    if (this.metadata && !set) {
      // Not in the database (a manifest from before it, not imported yet): record it now.
      const parsed = parseManifest(manifest.bytes, manifest.mediaType);
      const facts = await manifestFacts(digest, manifest.bytes.length, parsed, (d) => this.readSmallBlob(d));
      const recorded = await this.metadata.beginManifest(name, facts, Date.now());
      if (!(await this.metadata.commitManifest(name, recorded.id, { tag, at: Date.now(), refuseMove }))) throw collectedMeanwhile([digest]);
    }
  }

  /** A small blob's bytes (an image config), or undefined when absent or too large to read whole. */
  private async readSmallBlob(digest: string): Promise<Buffer | undefined> {
    const size = await this.blobs.statGlobal(digest);
    if (size === undefined || size > MAX_MANIFEST_BYTES) return undefined;
    return this.blobs.readGlobal(digest);
  }

  /**
   * Writes the tag, then retains what it reaches again: a collection that read the tags before
   * this write may have judged the manifest unreachable (delete-untagged). If something is gone,
   * the tag goes back to what it was (unless another push moved it since) and the push fails.
   */
  private async writeTag(name: string, tag: string, digest: string, dependencies: Dependency[]): Promise<void> {
    const key = tagCurrentLinkKey(name, tag);
    const previous = await this.readLink(key);
    await this.driver.putContent(key, digest);
    // Reads of the tag in flight began before this write: they must not cache what they got.
    this.invalidateTag(name, tag);
    this.cache.setTag(name, tag, digest);
    const gone = await this.retainDependencies(dependencies);
    if (gone.length === 0) return;
    if ((await this.readLink(key)) === digest) {
      if (previous !== undefined) await this.driver.putContent(key, previous);
      else await this.driver.delete(tagKey(name, tag));
    }
    this.invalidateTag(name, tag);
    // Other replicas may have read the tag while it pointed here; nothing else will tell them.
    await this.metadata?.announce({ kind: 'tag', repository: name, tag }).catch(() => {});
    throw collectedMeanwhile(gone);
  }

  private async readLink(key: string): Promise<string | undefined> {
    try {
      return (await this.driver.getContent(key)).toString('utf8').trim();
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * What a manifest's reachability depends on: its bytes and revision (restorable from what we
   * hold), the blobs it names and, through the child manifests of an index, theirs.
   */
  private async dependencies(name: string, top: CachedManifest, strict: boolean): Promise<Dependency[]> {
    const out: Dependency[] = [];
    const seen = new Set<string>();
    const visit = async (manifest: CachedManifest): Promise<void> => {
      if (seen.has(manifest.digest)) return;
      seen.add(manifest.digest);
      let parsed;
      try {
        parsed = parseManifest(manifest.bytes, manifest.mediaType);
      } catch (err) {
        if (!(err instanceof RegistryError)) throw err;
      }
      const bytesKey = blobDataKey(manifest.digest);
      const revisionKey = manifestRevisionKey(name, manifest.digest);
      const revision = encodeRevision(
        revisionOf(manifest.digest, manifest.bytes.length, parsed ?? { mediaType: manifest.mediaType }),
        manifest.bytes,
        this.layout,
      );
      const required = manifest === top || strict;
      out.push({ key: bytesKey, digest: manifest.digest, required, restore: () => this.driver.putContent(bytesKey, manifest.bytes) });
      out.push({ key: revisionKey, digest: manifest.digest, required, restore: () => this.driver.putContent(revisionKey, revision) });
      if (!parsed) return;
      for (const blob of parsed.blobs) out.push({ key: blobDataKey(blob.digest), digest: blob.digest, required: strict });
      for (const child of parsed.manifests) {
        let held: CachedManifest;
        try {
          held = await this.get(name, child.digest);
        } catch (err) {
          if (!(err instanceof RegistryError && err.code === 'MANIFEST_UNKNOWN')) throw err;
          out.push({ key: manifestRevisionKey(name, child.digest), digest: child.digest, required: strict });
          continue;
        }
        await visit(held);
      }
    };
    await visit(top);
    return out;
  }

  /** Retains the dependencies; the digests of required ones that are gone for good. */
  private async retainDependencies(dependencies: Dependency[]): Promise<string[]> {
    const byKey = new Map(dependencies.map((d) => [d.key, d]));
    const gone = await retainAll(this.driver, byKey.keys(), (key) => byKey.get(key)?.restore);
    return [...new Set(gone.filter((key) => byKey.get(key)?.required).map((key) => byKey.get(key)!.digest))].sort();
  }

  /**
   * Deletes by digest (the revision, every tag pointing at it, its referrer entry) or by tag
   * (the tag only). Throws MANIFEST_UNKNOWN.
   */
  async delete(name: string, reference: string, options: { cache?: boolean } = {}): Promise<void> {
    // cache: the pull-through cache evicting what it fetched; immutability rules are not for it.
    const immutable = options.cache ? new ImmutableTags() : this.immutable;
    if (!isDigestReference(reference)) {
      await this.resolveTag(name, reference);
      const matched = immutable.ruleFor(name, reference);
      if (matched) throw ImmutableTags.refusal(name, reference, matched);
      // The database first: once it answers, the tag is gone for every listing. Other replicas
      // are told once storage agrees, or one re-reading at once would find the tag still there.
      await this.metadata?.deleteTag(name, reference);
      await this.driver.delete(tagKey(name, reference));
      this.invalidateTag(name, reference);
      await this.metadata?.announce({ kind: 'tag', repository: name, tag: reference });
      return;
    }
    assertDigest(reference);
    const revision = await this.readRevision(name, reference);
    if (!revision) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { detail: { name, reference } });
    // Deleting a manifest deletes the tags on it: refused, before anything changes, if one is protected.
    if (immutable.coversRepository(name)) {
      for (const [tag, target] of await this.storedTagTargets(name)) {
        const matched = target === reference ? immutable.ruleFor(name, tag) : undefined;
        if (matched) throw ImmutableTags.refusal(name, tag, matched);
      }
    }
    await this.metadata?.deleteManifest(name, reference);
    for (const tag of await this.readTags(name)) {
      const target = await this.resolveTag(name, tag).catch(() => undefined);
      if (target === reference) {
        await this.driver.delete(tagKey(name, tag));
        this.invalidateTag(name, tag);
      }
    }
    const subject = revision.mediaType === undefined ? await this.subjectFromBytes(reference) : revision.subject;
    if (subject) await this.driver.delete(referrerKey(name, subject, reference));
    await this.driver.delete(manifestRevisionDirKey(name, reference));
    this.cache.forgetManifest(name, reference);
    this.invalidateTags(name);
    await this.metadata?.announce({ kind: 'deleted', repository: name, digest: reference });
  }

  /**
   * Tags of a repository that resolve, sorted lexically. Cached; concurrent callers share one read,
   * so an expired listing under load costs one read, not one per request.
   */
  async listTags(name: string): Promise<string[]> {
    if (this.metadata) return (await this.metadata.listTags(name))?.items ?? [];
    const key = RegistryCache.tagsListingKey(name);
    const cached = this.cache.listings.get(key);
    if (cached) return cached;
    const inFlight = this.tagReads.get(name);
    if (inFlight) return inFlight;
    const read: Promise<string[]> = this.readTags(name)
      .then((tags) => {
        // A tag written or deleted meanwhile dropped this read (invalidateTags): answer, don't cache.
        if (this.tagReads.get(name) === read) this.cache.listings.set(key, tags);
        return tags;
      })
      .finally(() => {
        if (this.tagReads.get(name) === read) this.tagReads.delete(name);
      });
    this.tagReads.set(name, read);
    return read;
  }

  /** Tags as storage holds them (never the database or a cache): for import and verification. */
  storedTags(name: string): Promise<string[]> {
    return this.readTags(name);
  }

  /**
   * A revision as its link holds it: media type and, for a referrer, its subject; both absent from
   * a bare-digest link (registry:2's), whose manifest bytes say them. Throws SyntaxError when the
   * link holds neither form.
   */
  storedRevision(name: string, digest: string): Promise<StoredRevision | undefined> {
    return this.readRevision(name, digest);
  }

  /**
   * Every tag storage holds with the digest its link names, read now (never the database or a
   * cache): for import and verification. A tag whose link is missing or unreadable is left out.
   */
  async storedTagTargets(name: string): Promise<Map<string, string>> {
    const entries = (await this.driver.list(tagsPrefix(name))).filter(isValidTag);
    const targets = new Map<string, string>();
    let next = 0;
    const worker = async () => {
      while (next < entries.length) {
        const tag = entries[next++];
        const digest = await this.readLink(tagCurrentLinkKey(name, tag));
        if (digest !== undefined && parseDigest(digest)) targets.set(tag, digest);
      }
    };
    await Promise.all(Array.from({ length: Math.min(TAG_CHECK_CONCURRENCY, entries.length) }, worker));
    return targets;
  }

  /** The digest a tag's link names in storage now (never a cache); undefined when it has none. */
  async storedTagTarget(name: string, tag: string): Promise<string | undefined> {
    const digest = await this.readLink(tagCurrentLinkKey(name, assertTag(tag)));
    return digest !== undefined && parseDigest(digest) ? digest : undefined;
  }

  /** The subject a stored manifest's bytes name (for a bare-digest link, which does not say). */
  private async subjectFromBytes(digest: string): Promise<string | undefined> {
    try {
      const bytes = await this.blobs.readGlobal(digest);
      return parseManifest(bytes, mediaTypeOfBytes(bytes)).subject?.digest;
    } catch (err) {
      if (isNotFound(err) || err instanceof RegistryError) return undefined;
      throw err;
    }
  }

  private async readTags(name: string): Promise<string[]> {
    const entries = (await this.driver.list(tagsPrefix(name))).filter(isValidTag);
    // A tag directory without its current/link (a process killed while tagging leaves current/
    // empty) names no manifest: listed, it would answer 404. One stat per tag, a few at a time.
    const resolves = new Array<boolean>(entries.length);
    let next = 0;
    const worker = async () => {
      while (next < entries.length) {
        const i = next++;
        resolves[i] = await this.driver.stat(tagCurrentLinkKey(name, entries[i])).then(
          () => true,
          (err: unknown) => (isNotFound(err) ? false : Promise.reject(err)),
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(TAG_CHECK_CONCURRENCY, entries.length) }, worker));
    return entries.filter((_, i) => resolves[i]).sort(compareLexically);
  }

  /** How many tags a repository has. */
  async tagCount(name: string): Promise<number> {
    if (this.metadata) return this.metadata.countTags(name);
    return (await this.listTags(name)).length;
  }

  /**
   * One page of a repository's tags; undefined when the repository is unknown. From the database
   * at the page's cost; without one, a page of the whole (cached) listing.
   */
  async tagsPage(name: string, page: PageRequest): Promise<Page<string> | undefined> {
    if (this.metadata) return this.metadata.listTags(name, page);
    return pageOfSorted(await this.listTags(name), page);
  }

  /** After a tag changes: the cached listing and any read in flight are out of date. */
  private invalidateTags(name: string): void {
    this.cache.listings.delete(RegistryCache.tagsListingKey(name));
    this.tagReads.delete(name);
  }

  /** After this process changed a tag: its cached digest, the listing and reads in flight. */
  private invalidateTag(name: string, tag: string): void {
    this.cache.forgetTag(name, tag);
    this.invalidateTags(name);
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
    if (this.metadata) return this.metadata.referrers(name, subject, artifactType);
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

  private async readRevision(name: string, digest: string): Promise<StoredRevision | undefined> {
    try {
      return decodeRevision(await this.driver.getContent(manifestRevisionKey(name, digest)));
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
}

function revisionOf(digest: string, size: number, manifest: { mediaType: string; subject?: Descriptor }): RevisionRecord {
  const revision: RevisionRecord = { digest, mediaType: manifest.mediaType, size };
  if (manifest.subject) revision.subject = manifest.subject.digest;
  return revision;
}

/** The blobs a manifest references, for its quota check; none when it does not parse (store refuses it). */
function quotaBlobsOf(bytes: Buffer, contentType: string | undefined): Descriptor[] {
  if (bytes.length > MAX_MANIFEST_BYTES) return [];
  try {
    return parseManifest(bytes, contentType).blobs;
  } catch (err) {
    if (err instanceof RegistryError) return [];
    throw err;
  }
}

/** A push whose references a concurrent garbage collection took before they were retained. */
function collectedMeanwhile(digests: string[]): RegistryError {
  return new RegistryError('MANIFEST_BLOB_UNKNOWN', 'blobs or manifests it references were garbage-collected during the push; push them again', {
    detail: { digests: digests.slice(0, MAX_MISSING_IN_DETAIL) },
  });
}

/** Tag links checked at once while listing tags. */
const TAG_CHECK_CONCURRENCY = 32;
/** Lookups of a manifest's references in flight at once. */
const REFERENCE_CHECK_CONCURRENCY = 16;
/** Missing references named in a MANIFEST_BLOB_UNKNOWN detail; the check stops there. */
const MAX_MISSING_IN_DETAIL = 100;

/** The page of a sorted listing after page.last, at most page.n entries. */
export function pageOfSorted(sorted: string[], page: PageRequest): Page<string> {
  let start = 0;
  if (page.last !== undefined) {
    const last = page.last;
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid] <= last) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  if (page.n === undefined) return { items: sorted.slice(start), more: false };
  return { items: sorted.slice(start, start + page.n), more: start + page.n < sorted.length };
}

/** Byte-wise order, as the spec's "lexical" ordering of tags and repositories. */
export function compareLexically(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export { MEDIA_TYPES };
