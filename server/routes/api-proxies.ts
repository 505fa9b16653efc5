// The JSON API's pull-through upstreams: each one's state (offline while its failure policy says
// so, proxy/upstream-policy.ts), its counters since start (proxy/upstream-stats.ts) and the
// repositories it has cached, counted and paged from the metadata database. An upstream is
// named by its index in the configuration (Distribution's `proxy` first, then stowage.proxies).
import type Router from '@koa/router';
import type { Context } from 'koa';
import { RegistryError } from '../../errors/registry-error.js';
import { CATALOG_ACCESS } from '../../auth/scope.js';
import type { PullThroughProxy } from '../../proxy/pull-through.js';
import type { Upstream } from '../../proxy/routing.js';
import type { UpstreamCounters } from '../../proxy/upstream-stats.js';
import type { RegistryConfig } from '../config.js';
import { visibleItems } from '../pagination.js';
import { sendJson } from '../respond.js';
import { upstreamSettings } from '../proxy-from-config.js';
import { repositoryJson } from './api-json.js';
import { API_PREFIX, apiPage, authorizer, badParameter, linkTo, nextUrl, queriesOf, type ApiDependencies } from './api-request.js';

export const PROXY_ROUTES = [
  { method: 'GET', path: `${API_PREFIX}/proxies` },
  { method: 'GET', path: `${API_PREFIX}/proxies/{index}/repositories` },
] as const;

export interface UpstreamState {
  prefix: string;
  remoteurl: string;
  online: boolean;
  upstream?: Upstream;
}

/** The configured upstreams, in order, with whether each is trusted now. */
export function upstreamStates(config: RegistryConfig, proxy: PullThroughProxy | undefined): UpstreamState[] {
  return upstreamSettings(config).map(({ prefix, remoteurl }) => {
    const upstream = proxy?.router.upstreams.find((u) => u.prefix === prefix);
    return { prefix, remoteurl, online: !upstream?.client.policy.isOffline(), upstream };
  });
}

/** The names an upstream caches: under "<prefix>/", or for the whole-registry proxy every name no other prefix takes. */
function cachedBy(states: UpstreamState[], state: UpstreamState): { prefix: string; owns: (name: string) => boolean } {
  if (state.prefix) return { prefix: `${state.prefix}/`, owns: () => true };
  const others = states.filter((s) => s.prefix).map((s) => `${s.prefix}/`);
  return { prefix: '', owns: (name) => !others.some((p) => name.startsWith(p)) };
}

const ZERO: Omit<UpstreamCounters, 'lookups'> = { hits: 0, misses: 0, errors: 0, bytesFetched: 0 };

export function registerProxyRoutes(router: Router, deps: ApiDependencies): void {
  const { config, storage, proxy } = deps;
  const authorize = authorizer(deps.access);

  router.get(`${API_PREFIX}/proxies`, async (ctx: Context) => {
    const queries = queriesOf(storage);
    await authorize(ctx, [CATALOG_ACCESS]);
    const states = upstreamStates(config, proxy);
    const counts = await Promise.all(states.map((s) => (s.prefix ? queries.countRepositories(`${s.prefix}/`) : Promise.resolve(0))));
    // The whole-registry proxy caches every name the prefixed ones do not.
    const prefixed = counts.reduce((sum, n) => sum + n, 0);
    const rootIndex = states.findIndex((s) => !s.prefix);
    if (rootIndex >= 0) counts[rootIndex] = (await queries.countRepositories()) - prefixed;
    sendJson(ctx, 200, {
      upstreams: states.map((s, i) => {
        const counters = s.upstream && proxy ? proxy.stats.of(s.prefix) : undefined;
        const { hits, misses, errors, bytesFetched } = counters ?? ZERO;
        return {
          prefix: s.prefix,
          remoteurl: s.remoteurl,
          online: s.online,
          hits,
          misses,
          errors,
          bytesFetched,
          repositories: counts[i],
          lookups: counters?.lookups ?? null,
        };
      }),
    });
  });

  router.get(`${API_PREFIX}/proxies/:index/repositories`, async (ctx: Context) => {
    const queries = queriesOf(storage);
    const raw = String(ctx.params.index);
    if (!/^\d{1,4}$/.test(raw)) throw badParameter('index', 'index must be the number of an upstream', raw);
    const caller = await authorize(ctx, [CATALOG_ACCESS]);
    const states = upstreamStates(config, proxy);
    const state = states[Number(raw)];
    if (!state) throw new RegistryError('NAME_UNKNOWN', 'no upstream has this index', { detail: { index: Number(raw) } });
    const { prefix, owns } = cachedBy(states, state);
    const page = apiPage(ctx);
    const { entries, more } = await visibleItems(
      (p) => queries.repositories(p, { prefix }),
      page,
      (r) => r.name,
      (name) => owns(name) && (!caller || caller.canPull(name)),
    );
    const next = nextUrl(`${API_PREFIX}/proxies/${raw}/repositories`, more && entries.length > 0, { n: String(page.n), last: entries.at(-1)?.name });
    sendJson(ctx, 200, { repositories: entries.map(repositoryJson), next: next ?? null }, linkTo(next));
  });
}
