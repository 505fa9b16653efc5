// The /v2 route table. Repository names contain slashes, so the path is split once by anchored
// patterns (the suffix decides the resource), the name is checked against the spec's grammar,
// and the request goes to the handler registered for that resource and method.
import type { Context } from 'koa';
import { RegistryError } from '../../errors/registry-error.js';
import { assertName, isDigestReference, isValidName } from '../../storage/grammar.js';
import { decodePathParam } from '../path-param.js';
import { claimUploadSlot } from '../load-shedding.js';
import * as base from './handlers/base.js';
import * as blobs from './handlers/blobs.js';
import * as uploads from './handlers/uploads.js';
import * as manifests from './handlers/manifests.js';
import * as tags from './handlers/tags.js';
import * as catalog from './handlers/catalog.js';
import * as referrers from './handlers/referrers.js';
import type { Handler, Resource, RouteMatch, Services } from './route-types.js';
import { listen } from '../../notifications/listen.js';
import type { EventOrigin } from '../../notifications/notifier.js';
import { CATALOG_ACCESS, repositoryAccess, type Action, type ResourceAccess } from '../../auth/scope.js';
import { refuseAliasWrite } from './aliases.js';
import { authorizeRequest } from '../authorize-request.js';
import { clientOf } from '../client-address.js';
import { noteEvent, noteIntent, type AuditIntent } from '../request-audit.js';
import { audited } from './audited-repository.js';

const PATTERNS: Array<[Resource, RegExp]> = [
  ['tags', /^\/v2\/(.+)\/tags\/list$/],
  ['manifest', /^\/v2\/(.+)\/manifests\/([^/]+)$/],
  ['uploads', /^\/v2\/(.+)\/blobs\/uploads\/?$/],
  ['upload', /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/],
  ['blob', /^\/v2\/(.+)\/blobs\/([^/]+)$/],
  ['referrers', /^\/v2\/(.+)\/referrers\/([^/]+)$/],
];

/** Which resource a /v2 path names, or undefined when it names none. */
export function matchRoute(path: string): RouteMatch | undefined {
  if (path === '/v2/' || path === '/v2') return { resource: 'base', name: '', param: '' };
  if (path === '/v2/_catalog') return { resource: 'catalog', name: '', param: '' };
  for (const [resource, pattern] of PATTERNS) {
    const m = pattern.exec(path);
    // The name is matched as sent: an encoded "/" or "." in it is refused, not decoded.
    if (m) return { resource, name: assertName(m[1]), param: decodePathParam(m[2] ?? '') };
  }
  return undefined;
}

type MethodTable = Partial<Record<string, Handler>>;

/** Methods that change stored state; refused in read-only (maintenance) mode. */
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export const ROUTES: Record<Resource, MethodTable> = {
  base: { GET: base.get, HEAD: base.get },
  catalog: { GET: catalog.list },
  tags: { GET: tags.list },
  manifest: { GET: manifests.get, HEAD: manifests.get, PUT: manifests.put, DELETE: manifests.remove },
  blob: { GET: blobs.get, HEAD: blobs.get, DELETE: blobs.remove },
  uploads: { POST: uploads.start },
  upload: { GET: uploads.status, PATCH: uploads.patch, PUT: uploads.finish, DELETE: uploads.cancel },
  referrers: { GET: referrers.list },
};

/**
 * The actions each resource and method needs from the caller, as Distribution asks them: reads
 * pull, writes pull and push, deletes delete. A method not listed needs only a login (and then
 * answers 405).
 */
export const PERMISSIONS: Record<Resource, Partial<Record<string, Action[]>>> = {
  base: {},
  catalog: {},
  tags: { GET: ['pull'] },
  manifest: { GET: ['pull'], HEAD: ['pull'], PUT: ['pull', 'push'], DELETE: ['delete'] },
  blob: { GET: ['pull'], HEAD: ['pull'], DELETE: ['delete'] },
  uploads: { POST: ['pull', 'push'] },
  upload: { GET: ['pull', 'push'], PATCH: ['pull', 'push'], PUT: ['pull', 'push'], DELETE: ['pull', 'push'] },
  referrers: { GET: ['pull'] },
};

/** What a request must be granted, as token scopes: none for /v2/ (a login), registry:catalog:* for the catalog. */
export function requiredAccess(route: RouteMatch, method: string): ResourceAccess[] {
  if (route.resource === 'catalog') return [CATALOG_ACCESS];
  const actions = PERMISSIONS[route.resource][method];
  return route.name && actions ? [repositoryAccess(route.name, actions)] : [];
}

/**
 * What a token challenge asks for beyond what the request needs: pull on a mount's source, as
 * Distribution asks, so the token the client fetches lets the mount happen (without it the mount
 * is an ordinary upload).
 */
export function optionalAccess(route: RouteMatch, method: string, query: Context['query']): ResourceAccess[] {
  const from = Array.isArray(query.from) ? query.from[0] : query.from;
  if (route.resource !== 'uploads' || method !== 'POST' || !query.mount || !from || from === route.name || !isValidName(from)) return [];
  return [repositoryAccess(from, ['pull'])];
}

/** What a request through an alias needs on the alias's target. */
function targetActions(route: RouteMatch, method: string): Action[] {
  return [...new Set<Action>(['pull', ...(PERMISSIONS[route.resource][method] ?? [])])];
}

/** containerd's mirror hint (?ns=docker.io): which registry the client meant. */
/** The Via field of proxied answers: the protocol we received and our pseudonym. */
export const PROXY_VIA = '1.1 stowage';

function namespaceHint(ctx: Context): string | undefined {
  const ns = ctx.query.ns;
  return (Array.isArray(ns) ? ns[0] : ns) || undefined;
}

/** What a /v2 request means to do, for the audit log's record of a refusal (server/request-audit.ts). */
function auditIntent(route: RouteMatch, method: string, query: Context['query']): AuditIntent | undefined {
  const repository = route.name || undefined;
  const reference = route.param && !isDigestReference(route.param) ? route.param : undefined;
  const digest = route.param && isDigestReference(route.param) ? route.param : undefined;
  switch (route.resource) {
    case 'manifest':
      if (method === 'PUT') return { action: 'push', repository, reference, digest, write: true };
      if (method === 'DELETE') return { action: 'delete', repository, reference, digest, write: true };
      return { action: 'pull', repository, reference, digest };
    case 'blob':
      if (method === 'DELETE') return { action: 'delete', repository, digest, write: true };
      return { action: 'pull', repository, digest };
    case 'uploads':
    case 'upload': {
      const mount = Array.isArray(query.mount) ? query.mount[0] : query.mount;
      return mount && route.resource === 'uploads' ? { action: 'mount', repository, digest: mount.slice(0, 140) } : { action: 'push', repository };
    }
    case 'tags':
    case 'referrers':
      return { action: 'pull', repository, digest };
    case 'catalog':
      return { action: 'list' };
    default:
      return undefined;
  }
}

/** Who caused a request's events and through which connection. */
function eventOrigin(ctx: Context, user: string | undefined): EventOrigin {
  const socket = ctx.req.socket;
  return {
    request: { id: ctx.state.requestId ?? '', addr: clientOf(ctx), host: ctx.host, method: ctx.method, useragent: ctx.get('User-Agent') },
    actor: user,
    localAddr: socket.localAddress ? `${socket.localAddress}:${socket.localPort}` : '',
  };
}

export function v2Router(services: Services) {
  return async function routeV2(ctx: Context): Promise<void> {
    let route = matchRoute(ctx.path);
    if (!route) throw new RegistryError('NAME_UNKNOWN', 'no such route', { status: 404, detail: { path: ctx.path.slice(0, 300) } });
    ctx.state.route = route.resource;
    if (ctx.state.audit) noteIntent(ctx, auditIntent(route, ctx.method, ctx.query));
    // Access is decided on the name the client asked for, the one its token names.
    if (services.access) {
      const needed = requiredAccess(route, ctx.method);
      const optional = optionalAccess(route, ctx.method, ctx.query);
      const caller = await authorizeRequest(ctx, services.access, needed, optional);
      route = { ...route, caller };
    }
    // The client's share of the upload slots, now that we know who it is (server/load-shedding.ts).
    claimUploadSlot(ctx, route.caller?.identity.user);
    if (route.name) {
      const routed = services.repositories.route(route.name, namespaceHint(ctx));
      const { alias, upstream } = routed;
      // The spec's registry-proxying section: a registry that scoped the request by ?ns= says so.
      if (upstream?.namespace) ctx.set('OCI-Namespace', upstream.namespace);
      // RFC 9110 7.6.3: an answer that came (or may come) through a proxy names the intermediary.
      if (upstream) ctx.set('Via', PROXY_VIA);
      if (alias) {
        if (WRITE_METHODS.has(ctx.method)) refuseAliasWrite(route.name, alias);
        // The grant above covers the alias; the target is what is read or written, so the caller
        // needs the same actions there (and pull, to see it at all).
        const caller = route.caller;
        const refused = caller ? targetActions(route, ctx.method).filter((action) => !caller.may(alias.name, action)) : [];
        if (refused.length > 0) {
          throw new RegistryError('DENIED', 'requested access to the resource is denied', { detail: { name: alias.name, actions: refused } });
        }
      }
      // A mirror hint (?ns=) can put the name under a proxy's prefix: the caller must be able to pull that.
      if (upstream && route.caller && upstream.name !== (alias?.name ?? route.name) && !route.caller.canPull(upstream.name)) {
        throw new RegistryError('DENIED', 'requested access to the resource is denied', { detail: { name: upstream.name } });
      }
      let repository = services.repositories.open(routed, { actor: route.caller?.identity.user });
      // The audit log's events, too (server/request-audit.ts); reads are not audited.
      if (ctx.state.audit && WRITE_METHODS.has(ctx.method)) repository = audited(repository, (draft) => noteEvent(ctx, draft));
      // Webhook events come from what the repository does (notifications/listen.ts).
      if (services.notifier) repository = listen(repository, services.notifier.sinkFor(eventOrigin(ctx, route.caller?.identity.user)));
      route = { ...route, name: routed.name, asked: route.name, repository };
    }
    const handler = ROUTES[route.resource][ctx.method];
    if (!handler) {
      ctx.set('Allow', Object.keys(ROUTES[route.resource]).join(', '));
      throw new RegistryError('UNSUPPORTED', `${ctx.method} is not supported here`);
    }
    if (services.options.readOnly && WRITE_METHODS.has(ctx.method)) {
      throw new RegistryError('UNSUPPORTED', 'the registry is in read-only mode', { status: 405 });
    }
    await handler(ctx, route, services);
  };
}
