// The JSON API over the metadata database (/api/v1/), for the web UI and `stowage ls`, `du` and
// `tags`: repositories with size, counts and last push; a repository's tags with what each points
// at and its pulls; one image's details. Every list is a page (n, last) with the next page's URL
// in the body and a Link header, and shows only what the caller may pull, with the credentials
// /v2 takes (auth/). Names are matched as sent, as in /v2: an encoded "/" is NAME_INVALID.
// Registered on the router of server/router.ts; the queries are storage/metadata/metadata-queries.ts.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { RegistryError } from '../../errors/registry-error.js';
import type { AccessController, Grant } from '../../auth/access-controller.js';
import { CATALOG_ACCESS, repositoryAccess, type ResourceAccess } from '../../auth/scope.js';
import { assertName } from '../../storage/grammar.js';
import { imageDetails, type ImageDetails } from '../../storage/image-details.js';
import type { RegistryStorage } from '../../storage/registry.js';
import type { MetadataQueries, RepositorySummary, TagSummary } from '../../storage/metadata/metadata-queries.js';
import { parsePageQuery, visibleItems, type PageQuery } from '../pagination.js';
import { decodePathParam } from '../path-param.js';
import { sendJson } from '../respond.js';

export const API_PREFIX = '/api/v1';

/** The API's routes, for OPS_ROUTES (openapi.yaml's test). */
export const API_ROUTES = [
  { method: 'GET', path: `${API_PREFIX}/repositories` },
  { method: 'GET', path: `${API_PREFIX}/repositories/{name}` },
  { method: 'GET', path: `${API_PREFIX}/tags/{name}` },
  { method: 'GET', path: `${API_PREFIX}/images/{name}/{reference}` },
] as const;

/** Entries per page when the request does not say, and the most one page holds. */
export const DEFAULT_API_PAGE = 100;
export const MAX_API_PAGE = 1000;

export interface ApiDependencies {
  storage: RegistryStorage;
  access?: AccessController;
}

export function registerApiRoutes(router: Router, { storage, access }: ApiDependencies): void {
  const authorize = async (ctx: Context, needed: ResourceAccess[]): Promise<Grant | undefined> =>
    access?.authorize({ authorization: ctx.get('Authorization') || undefined, client: ctx.ip }, needed);

  router.get(`${API_PREFIX}/repositories`, async (ctx: Context) => {
    const queries = queriesOf(storage);
    // As _catalog: the catalog scope for a token, then only what the caller may pull.
    const caller = await authorize(ctx, [CATALOG_ACCESS]);
    const page = apiPage(ctx);
    const filter = { prefix: single(ctx.query.prefix), contains: single(ctx.query.q) };
    const { entries, more } = await visibleItems(
      (p) => queries.repositories(p, filter),
      page,
      (r) => r.name,
      caller && ((name) => caller.canPull(name)),
    );
    const next = nextPage(`${API_PREFIX}/repositories`, entries.at(-1)?.name, more, page, { prefix: filter.prefix, q: filter.contains });
    sendJson(ctx, 200, { repositories: entries.map(repositoryJson), next: next ?? null }, { Link: next && `<${next}>; rel="next"` });
  });

  router.get(`${API_PREFIX}/repositories/*name`, async (ctx: Context) => {
    const queries = queriesOf(storage);
    const name = assertName(ctx.path.slice(`${API_PREFIX}/repositories/`.length));
    await authorize(ctx, [repositoryAccess(name, ['pull'])]);
    const summary = await queries.repository(name);
    if (!summary) throw new RegistryError('NAME_UNKNOWN', undefined, { detail: { name } });
    sendJson(ctx, 200, repositoryJson(summary));
  });

  router.get(`${API_PREFIX}/tags/*name`, async (ctx: Context) => {
    const queries = queriesOf(storage);
    const name = assertName(ctx.path.slice(`${API_PREFIX}/tags/`.length));
    await authorize(ctx, [repositoryAccess(name, ['pull'])]);
    const page = apiPage(ctx);
    const tags = await queries.tags(name, page);
    if (!tags) throw new RegistryError('NAME_UNKNOWN', undefined, { detail: { name } });
    const next = nextPage(`${API_PREFIX}/tags/${name}`, tags.items.at(-1)?.tag, tags.more, page);
    sendJson(ctx, 200, { name, tags: tags.items.map(tagJson), next: next ?? null }, { Link: next && `<${next}>; rel="next"` });
  });

  router.get(`${API_PREFIX}/images/*name/:reference`, async (ctx: Context) => {
    queriesOf(storage);
    const rest = ctx.path.slice(`${API_PREFIX}/images/`.length);
    const at = rest.lastIndexOf('/');
    const name = assertName(rest.slice(0, at));
    await authorize(ctx, [repositoryAccess(name, ['pull'])]);
    sendJson(ctx, 200, imageJson(await imageDetails(storage, name, decodePathParam(rest.slice(at + 1)))));
  });
}

function queriesOf(storage: RegistryStorage): MetadataQueries {
  if (!storage.queries) throw new RegistryError('UNSUPPORTED', 'this registry keeps no metadata database (stowage.database)');
  return storage.queries;
}

function single(value: string | string[] | undefined): string | undefined {
  return (Array.isArray(value) ? value[0] : value) || undefined;
}

/** n and last as /v2 takes them, with a default and a smaller bound: every answer is one page. */
function apiPage(ctx: Context): PageQuery {
  const page = parsePageQuery(ctx.query);
  return { ...page, n: Math.min(page.n ?? DEFAULT_API_PAGE, MAX_API_PAGE) };
}

/** The URL of the page after this one, or undefined on the last page. */
function nextPage(
  path: string,
  last: string | undefined,
  more: boolean,
  page: PageQuery,
  extra: Record<string, string | undefined> = {},
): string | undefined {
  if (!more || last === undefined) return undefined;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(extra)) if (value !== undefined) params.set(key, value);
  params.set('n', String(page.n));
  params.set('last', last);
  return `${path}?${params.toString()}`;
}

function time(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

function repositoryJson(r: RepositorySummary) {
  return { name: r.name, size: r.size, tags: r.tags, manifests: r.manifests, lastPushed: time(r.lastPushedAt) };
}

function tagJson(t: TagSummary) {
  return {
    tag: t.tag,
    digest: t.digest,
    mediaType: t.mediaType,
    artifactType: t.artifactType ?? null,
    size: t.size,
    platforms: t.platforms,
    created: t.created ?? null,
    pushed: time(t.pushedAt),
    pushedBy: t.pushedBy ?? null,
    lastPulled: time(t.lastPulledAt),
    pulls: t.pullCount,
  };
}

function imageJson(d: ImageDetails) {
  return {
    name: d.name,
    digest: d.digest,
    mediaType: d.mediaType,
    artifactType: d.artifactType ?? null,
    manifestSize: d.manifestSize,
    size: d.size,
    platforms: d.platforms,
    created: d.created ?? null,
    pushed: time(d.pushedAt),
    pushedBy: d.pushedBy ?? null,
    lastPulled: time(d.lastPulledAt),
    pulls: d.pullCount,
    tag: d.tag ? { name: d.tag.name, pushed: time(d.tag.pushedAt), lastPulled: time(d.tag.lastPulledAt), pulls: d.tag.pullCount } : null,
    tags: d.tags,
    config: d.config ?? null,
    layers: d.layers,
    children: d.children.map((c) => ({
      digest: c.digest,
      mediaType: c.mediaType ?? null,
      size: c.size,
      platform: c.platform ?? null,
      totalSize: c.manifest?.size ?? null,
    })),
    subject: d.subject ?? null,
    referrers: d.referrers,
    annotations: d.annotations ?? {},
  };
}
