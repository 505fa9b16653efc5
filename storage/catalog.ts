// The list of repositories (for _catalog and the tags endpoint's NAME_UNKNOWN). A repository is a
// directory under repositories/ that holds manifests or layers; names nest, so the walk recurses
// into every child that is not one of the layout's own directories. The sorted result is cached.
import type { StorageDriver } from './driver.js';
import type { RegistryCache } from './cache.js';
import { REPOSITORIES_ROOT, REPOSITORY_INTERNAL_DIRS, repositoryKey } from './layout.js';
import { compareLexically } from './manifests.js';

const CATALOG_KEY = 'catalog';

export class Catalog {
  constructor(
    private readonly driver: StorageDriver,
    private readonly cache: RegistryCache,
  ) {}

  /** Every repository name, sorted lexically. */
  async repositories(): Promise<string[]> {
    const cached = this.cache.listings.get(CATALOG_KEY);
    if (cached) return cached;
    const names: string[] = [];
    await this.walk(REPOSITORIES_ROOT, '', names);
    names.sort(compareLexically);
    this.cache.listings.set(CATALOG_KEY, names);
    return names;
  }

  /** Repositories with upload sessions (a first push has uploads before any link). */
  async repositoriesWithUploads(): Promise<string[]> {
    const names: string[] = [];
    await this.walk(REPOSITORIES_ROOT, '', names, '_uploads');
    return names.sort(compareLexically);
  }

  async exists(name: string): Promise<boolean> {
    const children = await this.driver.list(repositoryKey(name));
    return children.includes('_manifests') || children.includes('_layers');
  }

  private async walk(key: string, name: string, out: string[], marker?: string): Promise<void> {
    const children = await this.driver.list(key);
    const found = marker ? children.includes(marker) : children.includes('_manifests') || children.includes('_layers');
    if (name && found) out.push(name);
    await Promise.all(
      children
        .filter((c) => !REPOSITORY_INTERNAL_DIRS.has(c))
        .map((c) => this.walk(`${key}/${c}`, name ? `${name}/${c}` : c, out, marker)),
    );
  }
}
