// POST /admin/retag: the server-side retag (storage/jobs/retag.ts) over HTTP, for tools that cannot
// run `stowage retag` on the registry's machine. With auth on, the caller needs pull on the
// source and push and delete on the destination (retagging moves tags: an admin's power).
// Registered on the router of server/router.ts.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { RegistryError } from '../../errors/registry-error.js';
import { parseImageReference, retag } from '../../storage/jobs/retag.js';
import type { RegistryStorage } from '../../storage/registry.js';
import { repositoryAccess } from '../../auth/scope.js';
import type { AccessController } from '../../auth/access-controller.js';
import { readLimitedBody } from '../request-body.js';
import { sendJson } from '../respond.js';
import type { RouteOptions } from '../route-options.js';
import { authorizeRequest } from '../authorize-request.js';
import { noteIntent, originOf } from '../request-audit.js';

export interface AdminDependencies {
  storage: RegistryStorage;
  options: RouteOptions;
  access?: AccessController;
}

const MAX_BODY = 64 * 1024;

function requestedImages(body: Buffer): { source: string; destination: string; force: boolean } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new RegistryError('UNSUPPORTED', 'the body must be JSON: {"source": "repo:tag", "destination": "repo[:tag]"}', { status: 400 });
  }
  const { source, destination, force } = (parsed ?? {}) as Record<string, unknown>;
  if (typeof source !== 'string' || typeof destination !== 'string') {
    throw new RegistryError('UNSUPPORTED', 'source and destination must be strings', { status: 400 });
  }
  if (force !== undefined && typeof force !== 'boolean') throw new RegistryError('UNSUPPORTED', 'force must be true or false', { status: 400 });
  return { source, destination, force: force === true };
}

export function registerAdminRoutes(router: Router, { storage, options, access }: AdminDependencies): void {
  router.post('/admin/retag', async (ctx: Context) => {
    if (options.readOnly) throw new RegistryError('UNSUPPORTED', 'the registry is in read-only mode');
    const { source, destination, force } = requestedImages(await readLimitedBody(ctx.req, MAX_BODY));
    const src = parseImageReference(source);
    const dst = parseImageReference(destination);
    noteIntent(ctx, { action: 'retag', repository: dst.name, reference: dst.reference, write: true });
    if (access) {
      await authorizeRequest(ctx, access, [repositoryAccess(src.name, ['pull']), repositoryAccess(dst.name, ['push', 'delete'])]);
    }
    const result = await retag(storage, src, dst, { force, origin: originOf(ctx) });
    sendJson(ctx, 201, { source, destination, ...result });
  });
}
