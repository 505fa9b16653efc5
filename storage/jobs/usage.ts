// How much the registry holds: per repository (tags, manifests, linked blobs and their bytes, as
// if the repository stored its own copy) and for the content store as it really is, so the
// difference shows what content addressing saves.
import type { RegistryStorage } from '../registry.js';
import { blobDataKey, blobListingPrefix, layerLinksPrefix } from '../layout.js';
import { isNotFound } from '../errors.js';

export interface RepositoryUsage {
  name: string;
  tags: number;
  manifests: number;
  blobs: number;
  /** Bytes of the blobs and manifests the repository links. */
  bytes: number;
}

export interface RegistryUsage {
  repositories: RepositoryUsage[];
  /** Sum of every repository's bytes: what storing each repository separately would take. */
  logicalBytes: number;
  /** Bytes in the content store: what is really stored. */
  storedBytes: number;
  storedBlobs: number;
}

async function sizeOf(storage: RegistryStorage, digest: string, sizes: Map<string, number>): Promise<number> {
  const known = sizes.get(digest);
  if (known !== undefined) return known;
  const size = (await storage.blobs.statGlobal(digest)) ?? 0;
  sizes.set(digest, size);
  return size;
}

export async function repositoryUsage(storage: RegistryStorage, name: string, sizes = new Map<string, number>()): Promise<RepositoryUsage> {
  const usage: RepositoryUsage = { name, tags: (await storage.manifests.listTags(name)).length, manifests: 0, blobs: 0, bytes: 0 };
  for (const digest of await storage.manifests.listRevisions(name)) {
    usage.manifests++;
    usage.bytes += await sizeOf(storage, digest, sizes);
  }
  for (const algorithm of await storage.driver.list(layerLinksPrefix(name))) {
    for (const hex of await storage.driver.list(layerLinksPrefix(name, algorithm))) {
      usage.blobs++;
      usage.bytes += await sizeOf(storage, `${algorithm}:${hex}`, sizes);
    }
  }
  return usage;
}

export async function registryUsage(storage: RegistryStorage): Promise<RegistryUsage> {
  const sizes = new Map<string, number>();
  const repositories: RepositoryUsage[] = [];
  for (const name of await storage.catalog.repositories()) repositories.push(await repositoryUsage(storage, name, sizes));
  let storedBytes = 0;
  let storedBlobs = 0;
  for (const algorithm of await storage.driver.list(blobListingPrefix())) {
    for (const shard of await storage.driver.list(blobListingPrefix(algorithm))) {
      for (const hex of await storage.driver.list(blobListingPrefix(algorithm, shard))) {
        try {
          storedBytes += (await storage.driver.stat(blobDataKey(`${algorithm}:${hex}`))).size;
          storedBlobs++;
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }
    }
  }
  const logicalBytes = repositories.reduce((sum, r) => sum + r.bytes, 0);
  return { repositories, logicalBytes, storedBytes, storedBlobs };
}
