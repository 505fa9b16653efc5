// The JSON API's raw bytes, for the web UI to show (and download) a manifest and an image config
// as stored: read from the stores, not through a Repository, so neither counts as a pull and a
// pull-through repository shows what it has cached without asking upstream. A manifest must be
// a ready one of the repository, a config a blob one of its ready manifests references, at most
// MAX_CONFIG_BYTES. The answers are never rendered by a browser (nosniff, a sandboxing CSP).
import type Router from '@koa/router';
import type { Context } from 'koa';
import { RegistryError } from '../../errors/registry-error.js';
import { repositoryAccess } from '../../auth/scope.js';
import { assertDigest, assertName, parseDigest } from '../../storage/grammar.js';
import { readConfigBlob } from '../../storage/image-config.js';
import type { RegistryStorage } from '../../storage/registry.js';
import { decodePathParam } from '../path-param.js';
import { sendBytes } from '../respond.js';
import { API_PREFIX, authorizer, queriesOf, single, type ApiDependencies } from './api-request.js';

export const CONTENT_ROUTES = [
  { method: 'GET', path: `${API_PREFIX}/manifests/{name}/{digest}` },
  { method: 'GET', path: `${API_PREFIX}/configs/{name}/{digest}` },
] as const;

/** Bytes to look at, never to run: no sniffing, no scripts, no frames. */
const INERT = { 'X-Content-Type-Options': 'nosniff', 'Content-Security-Policy': "default-src 'none'; sandbox" };

/** The repository name and digest of /<route>/<name>/<digest>. */
function nameAndDigest(ctx: Context, route: string): { name: string; digest: string } {
  const rest = ctx.path.slice(`${API_PREFIX}/${route}/`.length);
  const at = rest.lastIndexOf('/');
  const name = assertName(rest.slice(0, at));
  const digest = decodePathParam(rest.slice(at + 1));
  assertDigest(digest);
  return { name, digest };
}

/** Content-Disposition for ?download=1: the digest's hex as the file name. */
function disposition(ctx: Context, digest: string): Record<string, string> {
  return single(ctx.query.download) === '1' ? { 'Content-Disposition': `attachment; filename="${parseDigest(digest)!.hex}.json"` } : {};
}

async function unknownIn(storage: RegistryStorage, name: string, code: 'MANIFEST_UNKNOWN' | 'BLOB_UNKNOWN', digest: string): Promise<RegistryError> {
  if (!(await storage.metadata!.repositoryExists(name))) return new RegistryError('NAME_UNKNOWN', undefined, { detail: { name } });
  return new RegistryError(code, undefined, { detail: { name, digest } });
}

export function registerContentRoutes(router: Router, deps: ApiDependencies): void {
  const { storage } = deps;
  const authorize = authorizer(deps.access);

  router.get(`${API_PREFIX}/manifests/*name/:digest`, async (ctx: Context) => {
    queriesOf(storage);
    const { name, digest } = nameAndDigest(ctx, 'manifests');
    await authorize(ctx, [repositoryAccess(name, ['pull'])]);
    if (!(await storage.metadata!.hasManifest(name, digest))) throw await unknownIn(storage, name, 'MANIFEST_UNKNOWN', digest);
    const manifest = await storage.manifests.get(name, digest);
    sendBytes(ctx, 200, manifest.mediaType, manifest.bytes, { ...INERT, 'Docker-Content-Digest': digest, ...disposition(ctx, digest) });
  });

  router.get(`${API_PREFIX}/configs/*name/:digest`, async (ctx: Context) => {
    const queries = queriesOf(storage);
    const { name, digest } = nameAndDigest(ctx, 'configs');
    await authorize(ctx, [repositoryAccess(name, ['pull'])]);
    if (!(await queries.referencesBlob(name, digest))) throw await unknownIn(storage, name, 'BLOB_UNKNOWN', digest);
    const bytes = await readConfigBlob(storage, name, digest);
    sendBytes(ctx, 200, 'application/json', bytes, { ...INERT, 'Docker-Content-Digest': digest, ...disposition(ctx, digest) });
  });
}
