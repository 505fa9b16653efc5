// What every route of the JSON API (/api/v1/) shares: its dependencies, who the caller is (the
// credentials /v2 takes, checked by auth/), the metadata database's queries, and the query
// parameters (pages, sorts, cursors, filters). A bad parameter is the spec's JSON error with 400.
// The routes are server/routes/api*.ts; the JSON they answer is server/routes/api-json.ts.
import type { Context } from 'koa';
import { RegistryError } from '../../errors/registry-error.js';
import type { AccessController, Grant } from '../../auth/access-controller.js';
import type { ResourceAccess } from '../../auth/scope.js';
import type { PullThroughProxy } from '../../proxy/pull-through.js';
import { assertName } from '../../storage/grammar.js';
import type { RegistryStorage } from '../../storage/registry.js';
import type { MetadataQueries } from '../../storage/metadata/metadata-queries.js';
import type { UsageQueries } from '../../storage/metadata/usage-queries.js';
import type { RegistryConfig } from '../config.js';
import { parsePageQuery, type PageQuery } from '../pagination.js';
import { authorizeRequest } from '../authorize-request.js';

export const API_PREFIX = '/api/v1';

/** Entries per page when the request does not say, and the most one page holds. */
export const DEFAULT_API_PAGE = 100;
export const MAX_API_PAGE = 1000;

export interface ApiDependencies {
  config: RegistryConfig;
  storage: RegistryStorage;
  access?: AccessController;
  /** The pull-through proxy, when the config sets one up (its upstreams' state and counters). */
  proxy?: PullThroughProxy;
}

/** Who may do what, as /v2 decides it: undefined without auth, or throws the refusal (401, 403). */
export type Authorize = (ctx: Context, needed: ResourceAccess[]) => Promise<Grant | undefined>;

export function authorizer(access: AccessController | undefined): Authorize {
  return async (ctx, needed) => (access ? authorizeRequest(ctx, access, needed) : undefined);
}

export function queriesOf(storage: RegistryStorage): MetadataQueries {
  if (!storage.queries) throw new RegistryError('UNSUPPORTED', 'this registry keeps no metadata database (stowage.database)');
  return storage.queries;
}

export function usageOf(storage: RegistryStorage): UsageQueries {
  queriesOf(storage);
  return storage.usage!;
}

/** The repository name that follows prefix in the path, as sent (an encoded "/" is NAME_INVALID). */
export function nameAfter(ctx: Context, prefix: string): string {
  return assertName(ctx.path.slice(prefix.length));
}

export function single(value: string | string[] | undefined): string | undefined {
  return (Array.isArray(value) ? value[0] : value) || undefined;
}

/** A refused query parameter: 400, naming it. */
export function badParameter(parameter: string, message: string, value?: string): RegistryError {
  return new RegistryError('UNSUPPORTED', message, { status: 400, detail: { parameter, value: value?.slice(0, 100) } });
}

/** A parameter that takes one of a few words; absent: the first. */
export function choice<T extends string>(ctx: Context, parameter: string, allowed: readonly T[]): T {
  const value = single(ctx.query[parameter]);
  if (value === undefined) return allowed[0];
  if (!(allowed as readonly string[]).includes(value)) throw badParameter(parameter, `${parameter} must be one of ${allowed.join(', ')}`, value);
  return value as T;
}

/** n and last as /v2 takes them, with a default and a smaller bound: every answer is one page. */
export function apiPage(ctx: Context): PageQuery {
  const page = parsePageQuery(ctx.query);
  return { ...page, n: Math.min(page.n ?? DEFAULT_API_PAGE, MAX_API_PAGE) };
}

/** The URL of the page after this one: params (undefined ones left out) in order; undefined when none follows. */
export function nextUrl(path: string, more: boolean, params: Record<string, string | undefined>): string | undefined {
  if (!more) return undefined;
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined) query.set(key, value);
  return `${path}?${query.toString()}`;
}

/** The Link header naming the next page, as /v2 lists send it. */
export function linkTo(next: string | undefined): { Link: string | undefined } {
  return { Link: next && `<${next}>; rel="next"` };
}

/**
 * An opaque position in a sorted list: the sort, the order and the last entry's (key, name). It
 * names its sort so that a cursor from another listing is refused rather than misread.
 */
export interface Cursor {
  sort: string;
  order: string;
  key: number;
  name: string;
}

const MAX_CURSOR_LENGTH = 2048;

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.sort, cursor.order, cursor.key, cursor.name])).toString('base64url');
}

/** The cursor parameter for this sort and order; undefined when absent, 400 when it is not one of ours. */
export function decodeCursor(ctx: Context, sort: string, order: string): Cursor | undefined {
  const raw = single(ctx.query.cursor);
  if (raw === undefined) return undefined;
  const invalid = () => badParameter('cursor', 'cursor is not a cursor this listing gave', raw);
  if (raw.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(raw)) throw invalid();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(value) || value.length !== 4) throw invalid();
  const [s, o, key, name] = value as unknown[];
  if (s !== sort || o !== order || !Number.isSafeInteger(key) || (key as number) < 0 || typeof name !== 'string') throw invalid();
  return { sort, order, key: key as number, name };
}
