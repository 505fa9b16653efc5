// The pull-through proxy a configuration asks for: Distribution's `proxy` and stowage.proxies
// read into proxy/'s own settings, so proxy/ knows nothing of the config file.
import type { RegistryConfig } from './config.js';
import type { Logger } from './logger.js';
import type { RegistryStorage } from '../storage/registry.js';
import { PullThroughProxy, type PullThroughOptions } from '../proxy/pull-through.js';
import { ProxyRouter, createUpstream, type UpstreamSettings } from '../proxy/routing.js';

/** The upstreams a configuration declares, Distribution's `proxy` first (with the prefix ""). */
export function upstreamSettings(config: RegistryConfig): UpstreamSettings[] {
  const settings: UpstreamSettings[] = [];
  if (config.proxy) settings.push({ ...config.proxy, prefix: '', notfoundttlMs: 30_000, hosts: [] });
  settings.push(...config.stowage.proxies);
  const prefixes = new Set<string>();
  for (const s of settings) {
    if (prefixes.has(s.prefix)) throw new Error(`two proxies share the prefix "${s.prefix}"`);
    prefixes.add(s.prefix);
  }
  return settings;
}

/** The proxy a configuration asks for, or undefined when it names no upstream. */
export function proxyFromConfig(
  config: RegistryConfig,
  storage: RegistryStorage,
  logger: Logger,
  options: PullThroughOptions = {},
): PullThroughProxy | undefined {
  const settings = upstreamSettings(config);
  if (settings.length === 0) return undefined;
  const upstreams = settings.map((s) => createUpstream(s, logger.child({ upstream: s.prefix || '(all)' })));
  logger.info({ upstreams: upstreams.map((u) => ({ prefix: u.prefix, remote: u.client.base.origin })) }, 'pull-through proxy configured');
  return new PullThroughProxy(storage, new ProxyRouter(upstreams), logger, {
    maxCacheBytes: config.stowage.proxycache.maxbytes,
    ...options,
  });
}
