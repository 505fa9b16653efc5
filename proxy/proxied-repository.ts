// A proxied repository: the Repository interface (storage/repository.ts) as a decorator around
// the local repository that caches an upstream's, after Distribution's proxymanifeststore and
// proxyblobstore. Reads go local first and fetch from upstream on a miss, storing what arrives
// through the same write path as a push (proxy/pull-through.ts); writes are refused with
// UNSUPPORTED (405), as Distribution's proxy mode refuses them: the cache mirrors upstream.
import { pageOfSorted } from '../storage/manifests.js';
import { RegistryError } from '../errors/registry-error.js';
import type {
  BlobStat,
  OpenedBlob,
  Repository,
  RepositoryBlobs,
  RepositoryManifests,
  RepositoryReferrers,
  RepositoryTags,
  RepositoryUploads,
} from '../storage/repository.js';
import type { PullThroughProxy } from './pull-through.js';
import type { ProxyRoute } from './routing.js';

export class ProxiedRepository implements Repository {
  readonly name: string;
  readonly blobs: RepositoryBlobs;
  readonly uploads: RepositoryUploads;
  readonly manifests: RepositoryManifests;
  readonly tags: RepositoryTags;
  /** Referrers: upstream's (its API, or the referrers tag schema) joined with the cached ones. */
  readonly referrers: RepositoryReferrers;

  constructor(local: Repository, proxy: PullThroughProxy, route: ProxyRoute) {
    this.name = route.name;
    // A rejected promise, as every Repository method answers, never a synchronous throw.
    const refuse = async (): Promise<never> => {
      throw new RegistryError('UNSUPPORTED', `${route.name} is a pull-through cache of ${route.upstream.client.host}: writes are refused`, {
        detail: { name: route.name },
      });
    };
    this.blobs = {
      stat: async (digest: string): Promise<BlobStat> => {
        const lookup = await proxy.statBlob(route, digest);
        return lookup.hit ? local.blobs.stat(digest) : { size: lookup.size, stored: false };
      },
      open: async (digest: string): Promise<OpenedBlob> => {
        const filled = await proxy.openBlob(route, digest);
        if (!filled) return local.blobs.open(digest);
        return { stored: false, size: filled.size, stream: filled.stream };
      },
      copyTo: (digest, destination, range) => local.blobs.copyTo(digest, destination, range),
      redirectURL: (digest) => local.blobs.redirectURL(digest),
      mount: refuse,
      delete: refuse,
    };
    this.uploads = { start: refuse, status: refuse, append: refuse, finish: refuse, cancel: refuse, putMonolithic: refuse };
    this.manifests = {
      get: (reference: string) => proxy.pullManifest(route, reference),
      stat: (reference: string) => proxy.getManifest(route, reference),
      put: refuse,
      delete: refuse,
    };
    const list = async () => {
      const tags = await proxy.listTags(route);
      if (!tags) throw new RegistryError('NAME_UNKNOWN', undefined, { detail: { name: route.name } });
      return tags;
    };
    // The upstream's list merged with ours has no index to page through: page the whole list.
    this.tags = { list, page: async (page) => pageOfSorted(await list(), page) };
    this.referrers = { list: (subject, artifactType) => proxy.listReferrers(route, subject, artifactType) };
  }
}
