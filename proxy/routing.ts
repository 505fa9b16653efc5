// Which upstream serves a repository name, and under which names (after Verdaccio's hasProxyTo).
// Distribution's top-level `proxy` makes the whole registry a cache of one upstream (no prefix);
// each `stowage.proxies` entry serves the names under `<prefix>/`, and every other name stays a
// local repository. containerd's mirror form (`?ns=<host>`, distribution-spec draft "Registry
// Proxying") picks the upstream by host. Docker Hub's one-part names get `library/`.
import type { Logger } from 'pino';
import { assertName } from '../storage/grammar.js';
import { UpstreamClient } from './upstream-client.js';
import { UpstreamPolicy } from './upstream-policy.js';

/** Names Docker Hub answers to; `docker.io` is what containerd passes in ?ns=. */
const DOCKER_HUB_HOSTS = ['docker.io', 'registry-1.docker.io', 'index.docker.io', 'registry.hub.docker.com'];

export interface Upstream {
  /** The stowage-side namespace ("" for Distribution's whole-registry proxy). */
  prefix: string;
  client: UpstreamClient;
  /** How long a cached tag is served before it is revalidated. */
  ttlMs: number;
  /** How long an upstream "not found" is remembered. */
  notFoundTtlMs: number;
  /** Hosts that ?ns= may name for this upstream (lower case). */
  hosts: Set<string>;
  dockerHub: boolean;
}

export interface ProxyRoute {
  upstream: Upstream;
  /** The repository as stowage stores it (shows in _catalog and tags list). */
  name: string;
  /** The repository as the upstream names it. */
  remoteName: string;
  /** The ?ns= host that chose this upstream (answered as OCI-Namespace), when one did. */
  namespace?: string;
}

/** One upstream as configured: what a `stowage.proxies` entry holds (server/proxy-from-config.ts). */
export interface UpstreamSettings {
  /** The stowage-side namespace ("" for Distribution's whole-registry proxy). */
  prefix: string;
  remoteurl: string;
  username?: string;
  password?: string;
  /** How long a cached tag is served before it is revalidated. */
  ttlMs: number;
  /** How long an upstream "not found" is remembered. */
  notfoundttlMs: number;
  /** Registry host names that containerd's ?ns=<host> routes to this upstream. */
  hosts: string[];
  /** One-part names get "library/"; undefined: when remoteurl or hosts name Docker Hub. */
  dockerhub?: boolean;
}

export function createUpstream(settings: UpstreamSettings, logger: Logger, policy?: UpstreamPolicy): Upstream {
  const client = new UpstreamClient({
    remoteurl: settings.remoteurl,
    username: settings.username,
    password: settings.password,
    policy,
    logger,
  });
  const hosts = new Set([client.host, ...settings.hosts].map((h) => h.toLowerCase()));
  const dockerHub = settings.dockerhub ?? [...hosts].some((h) => DOCKER_HUB_HOSTS.includes(h));
  if (dockerHub) for (const h of DOCKER_HUB_HOSTS) hosts.add(h);
  return {
    prefix: settings.prefix,
    client,
    ttlMs: settings.ttlMs,
    notFoundTtlMs: settings.notfoundttlMs,
    hosts,
    dockerHub,
  };
}

export class ProxyRouter {
  private readonly root?: Upstream;
  private readonly prefixed: Upstream[];

  constructor(readonly upstreams: Upstream[]) {
    this.root = upstreams.find((u) => u.prefix === '');
    this.prefixed = upstreams.filter((u) => u.prefix !== '');
  }

  /** The upstream route for a (checked) repository name, or undefined for a local repository. */
  resolve(name: string, ns?: string): ProxyRoute | undefined {
    if (ns) {
      const host = ns.toLowerCase();
      const upstream = this.upstreams.find((u) => u.hosts.has(host));
      if (upstream) {
        const local = upstream.prefix ? `${upstream.prefix}/${name}` : name;
        return { upstream, name: assertName(local), remoteName: remoteNameOf(upstream, name), namespace: ns };
      }
    }
    for (const upstream of this.prefixed) {
      if (name.startsWith(`${upstream.prefix}/`)) {
        return { upstream, name, remoteName: remoteNameOf(upstream, name.slice(upstream.prefix.length + 1)) };
      }
    }
    if (this.root) return { upstream: this.root, name, remoteName: remoteNameOf(this.root, name) };
    return undefined;
  }

  close(): void {
    for (const u of this.upstreams) u.client.close();
  }
}

/** Docker Hub keeps official images under library/: "busybox" is "library/busybox" there. */
function remoteNameOf(upstream: Upstream, name: string): string {
  return upstream.dockerHub && !name.includes('/') ? `library/${name}` : name;
}
