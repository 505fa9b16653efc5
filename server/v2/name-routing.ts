// Which repository a name in a /v2 path means, decided once: a short name (stowage.aliases) is
// replaced by its target, then a name under a proxy's prefix (or any name, with Distribution's
// whole-registry proxy, or the upstream containerd names in ?ns=) is served by a pull-through
// decorator, and every other name by local storage. The /v2 dispatcher and the manifest fast
// path ask this same router, so they cannot disagree about a name.
import type { Registry, Repository, RepositoryContext } from '../../storage/repository.js';
import { ProxiedRepository } from '../../proxy/proxied-repository.js';
import type { PullThroughProxy } from '../../proxy/pull-through.js';
import type { ProxyRoute } from '../../proxy/routing.js';
import type { Aliases, ResolvedAlias } from './aliases.js';

export interface RoutedName {
  /** The repository that holds the content (an alias's target, a proxy's stowage-side name). */
  name: string;
  /** Set when the asked name was a short name. */
  alias?: ResolvedAlias;
  /** Set when the repository is a pull-through cache. */
  upstream?: ProxyRoute;
}

export class RepositoryRouter {
  constructor(
    private readonly registry: Registry,
    private readonly proxy?: PullThroughProxy,
    private readonly aliases?: Aliases,
  ) {}

  /** Where a (checked) name leads; ns is containerd's mirror hint (?ns=docker.io). */
  route(name: string, ns?: string): RoutedName {
    const alias = this.aliases && !this.aliases.empty ? this.aliases.resolve(name) : undefined;
    const target = alias ? alias.name : name;
    const upstream = this.proxy?.route(target, ns);
    return { name: upstream ? upstream.name : target, alias, upstream };
  }

  /** True when the name is served as stored, with no alias or proxy between: what the fast path may answer. */
  isPlain(name: string): boolean {
    const routed = this.route(name);
    return !routed.alias && !routed.upstream;
  }

  /** The repository a routed name is served by. */
  open(routed: RoutedName, context?: RepositoryContext): Repository {
    const local = this.registry.repository(routed.name, context);
    return routed.upstream && this.proxy ? new ProxiedRepository(local, this.proxy, routed.upstream) : local;
  }
}
