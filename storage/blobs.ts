// Blobs: one copy of each blob registry-wide, and per-repository links that say a repository may
// serve it (distribution's linkedblobstore). A mount, a second push of a known layer or a retag is
// a link write, never a byte copy. Every read checks the repository's link first.
import type { Readable, Writable } from 'node:stream';
import type { ByteRange, StorageDriver } from './drivers/driver.js';
import { RegistryError } from '../errors/registry-error.js';
import { isNotFound } from './errors.js';
import { RegistryCache } from './cache.js';
import { blobDataKey, layerLinkKey } from './layout.js';
import { rescue, retain } from './liveness.js';

export interface BlobInfo {
  digest: string;
  size: number;
}

export class BlobStore {
  constructor(
    private readonly driver: StorageDriver,
    private readonly cache: RegistryCache,
    /** Told when a repository gains a layer link (the metadata database records the repository). */
    private readonly repositoryWritten?: (name: string) => Promise<unknown>,
  ) {}

  /** Size of a blob anywhere in the registry, or undefined. */
  async statGlobal(digest: string): Promise<number | undefined> {
    try {
      return (await this.driver.stat(blobDataKey(digest))).size;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** The blob as the repository serves it. Throws BLOB_UNKNOWN when unlinked or missing. */
  async stat(name: string, digest: string): Promise<BlobInfo> {
    const cacheKey = RegistryCache.contentKey(name, digest);
    const cached = this.cache.blobs.get(cacheKey);
    if (cached !== undefined) return { digest, size: cached };
    const linkKey = layerLinkKey(name, digest);
    try {
      await this.driver.stat(linkKey);
    } catch (err) {
      if (isNotFound(err)) throw new RegistryError('BLOB_UNKNOWN', undefined, { detail: { digest } });
      throw err;
    }
    let size = await this.statGlobal(digest);
    // Linked but missing: a collection may have it set aside right now (storage/liveness.ts).
    if (size === undefined && (await rescue(this.driver, blobDataKey(digest)))) size = await this.statGlobal(digest);
    if (size === undefined) throw new RegistryError('BLOB_UNKNOWN', undefined, { detail: { digest } });
    this.cache.blobs.set(cacheKey, size);
    return { digest, size };
  }

  async has(name: string, digest: string): Promise<boolean> {
    try {
      await this.stat(name, digest);
      return true;
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'BLOB_UNKNOWN') return false;
      throw err;
    }
  }

  /** Bytes of a blob the repository links (whole, or an inclusive range already checked against size). */
  async open(name: string, digest: string, range?: ByteRange, signal?: AbortSignal): Promise<Readable> {
    await this.stat(name, digest);
    try {
      return await this.driver.read(blobDataKey(digest), range, signal);
    } catch (err) {
      if (isNotFound(err)) {
        this.cache.blobs.delete(RegistryCache.contentKey(name, digest));
        throw new RegistryError('BLOB_UNKNOWN', undefined, { detail: { digest } });
      }
      throw err;
    }
  }

  /**
   * Where a client may fetch the blob's bytes directly (storage.redirect), after the same link
   * check as open(); undefined when the driver serves no such URLs.
   */
  async redirectURL(name: string, digest: string, expiresInSeconds = 20 * 60): Promise<string | undefined> {
    await this.stat(name, digest);
    return this.driver.urlFor?.(blobDataKey(digest), expiresInSeconds);
  }

  /** Writes the bytes of a blob the repository links into destination (see StorageDriver.copyTo). */
  async copyTo(name: string, digest: string, destination: Writable, range?: ByteRange, signal?: AbortSignal): Promise<number> {
    await this.stat(name, digest);
    try {
      return await this.driver.copyTo(blobDataKey(digest), destination, range, signal);
    } catch (err) {
      if (isNotFound(err)) {
        this.cache.blobs.delete(RegistryCache.contentKey(name, digest));
        throw new RegistryError('BLOB_UNKNOWN', undefined, { detail: { digest } });
      }
      throw err;
    }
  }

  /** Bytes of a blob by content address alone (manifests, which are checked by their own links). */
  async readGlobal(digest: string): Promise<Buffer> {
    return this.driver.getContent(blobDataKey(digest));
  }

  /**
   * Makes digest servable from name: writes the link, then retains the blob (storage/liveness.ts),
   * so a collection running meanwhile cannot delete it. False when the blob is gone.
   */
  async link(name: string, digest: string): Promise<boolean> {
    await this.driver.putContent(layerLinkKey(name, digest), digest);
    this.cache.invalidateCatalog();
    await this.repositoryWritten?.(name);
    return retain(this.driver, blobDataKey(digest));
  }

  /** Links a blob that another repository holds; undefined when from lacks it (or it is gone). */
  async mount(name: string, from: string, digest: string): Promise<BlobInfo | undefined> {
    if (!(await this.has(from, digest))) return undefined;
    if (!(await this.link(name, digest))) {
      // Collected between the check and the link: the client uploads it instead (end-11).
      this.cache.blobs.delete(RegistryCache.contentKey(from, digest));
      return undefined;
    }
    return this.stat(name, digest);
  }

  /** Removes the repository's link; the bytes stay until garbage collection. */
  async unlink(name: string, digest: string): Promise<void> {
    await this.stat(name, digest);
    await this.driver.delete(layerLinkKey(name, digest));
    this.cache.blobs.delete(RegistryCache.contentKey(name, digest));
  }

  /**
   * Makes verified bytes at sourceKey the blob digest, servable from name. A digest already in
   * the content store is not stored twice; the verified copy is kept until the stored one has
   * been retained, and takes its place if a collection took it meanwhile.
   */
  async store(sourceKey: string, digest: string, name: string): Promise<void> {
    const target = blobDataKey(digest);
    const existed = (await this.statGlobal(digest)) !== undefined;
    if (!existed) await this.driver.move(sourceKey, target);
    await this.driver.putContent(layerLinkKey(name, digest), digest);
    this.cache.invalidateCatalog();
    await this.repositoryWritten?.(name);
    const kept = await retain(this.driver, target, existed ? () => this.driver.move(sourceKey, target) : undefined);
    if (existed) await this.driver.delete(sourceKey);
    if (!kept) {
      throw new RegistryError('UNAVAILABLE', 'garbage collection removed the blob while it was stored; retry the upload', {
        detail: { digest, retryAfterSeconds: 1 },
      });
    }
  }

  /** Stores small content (a manifest) under its digest, atomically, if not there yet. */
  async putSmall(digest: string, bytes: Buffer): Promise<void> {
    if ((await this.statGlobal(digest)) !== undefined) return;
    await this.driver.putContent(blobDataKey(digest), bytes);
  }
}
