// The list of repositories (for _catalog and the tags endpoint's NAME_UNKNOWN). A repository is a
// directory under repositories/ that holds manifests or layers; names nest, so the walk recurses
// into every child that is not one of the layout's own directories. The sorted result is cached.
// With a metadata database, listings and existence come from it instead, one page at a time;
// garbage collection still walks storage (freshRepositories), which is the truth about bytes.
import type { StorageDriver } from './drivers/driver.js';
import { CATALOG_LISTING, type RegistryCache } from './cache.js';
import { REPOSITORIES_ROOT, REPOSITORY_INTERNAL_DIRS, repositoryKey } from './layout.js';
import { compareLexically, pageOfSorted } from './manifests.js';
import type { MetadataStore, Page, PageRequest } from './metadata/metadata-store.js';

export class Catalog {
  constructor(
    private readonly driver: StorageDriver,
    private readonly cache: RegistryCache,
    private readonly metadata?: MetadataStore,
  ) {}

  /** How many repositories there are. */
  async count(): Promise<number> {
    if (this.metadata) return this.metadata.countRepositories();
    return (await this.repositories()).length;
  }

  /** One page of repository names in lexical order. */
  async page(page: PageRequest): Promise<Page<string>> {
    if (this.metadata) return this.metadata.listRepositories(page);
    return pageOfSorted(await this.repositories(), page);
  }

  private walking?: { generation: number; names: Promise<string[]> };

  /** Every repository name, sorted lexically. Concurrent callers share one walk, so an expired
   *  cache under load costs one walk, not one per request (the bench saw p99 spikes from that). */
  async repositories(): Promise<string[]> {
    if (this.metadata) return (await this.metadata.listRepositories()).items;
    const cached = this.cache.listings.get(CATALOG_LISTING);
    if (cached) return cached;
    // Join a walk in flight unless a write has happened since it began.
    const generation = this.cache.catalogGeneration;
    if (this.walking?.generation !== generation) {
      const walk = { generation, names: this.walkAll(generation) };
      this.walking = walk;
      void walk.names
        .finally(() => {
          if (this.walking === walk) this.walking = undefined;
        })
        .catch(() => {});
    }
    return this.walking!.names;
  }

  private async walkAll(generation: number): Promise<string[]> {
    const names: string[] = [];
    await this.walk(REPOSITORIES_ROOT, '', names);
    names.sort(compareLexically);
    // A write during the walk may have added a repository the walk missed: answer, don't cache.
    if (generation === this.cache.catalogGeneration) this.cache.listings.set(CATALOG_LISTING, names);
    return names;
  }

  /** Every repository name, from a walk that starts now (garbage collection must not join a
   *  walk, or use a listing, from before it began). */
  async freshRepositories(): Promise<string[]> {
    return this.walkAll(this.cache.catalogGeneration);
  }

  /** Repositories with upload sessions (a first push has uploads before any link). */
  async repositoriesWithUploads(): Promise<string[]> {
    const names: string[] = [];
    await this.walk(REPOSITORIES_ROOT, '', names, '_uploads');
    return names.sort(compareLexically);
  }

  async exists(name: string): Promise<boolean> {
    if (this.metadata) return this.metadata.repositoryExists(name);
    return this.existsInStorage(name);
  }

  /** Whether storage holds the repository (never the database): for reindex and verification. */
  async existsInStorage(name: string): Promise<boolean> {
    const children = await this.driver.list(repositoryKey(name));
    return children.includes('_manifests') || children.includes('_layers');
  }

  private async walk(key: string, name: string, out: string[], marker?: string): Promise<void> {
    const children = await this.driver.list(key);
    const found = marker ? children.includes(marker) : children.includes('_manifests') || children.includes('_layers');
    if (name && found) out.push(name);
    await Promise.all(
      children.filter((c) => !REPOSITORY_INTERNAL_DIRS.has(c)).map((c) => this.walk(`${key}/${c}`, name ? `${name}/${c}` : c, out, marker)),
    );
  }
}
