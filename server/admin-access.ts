// Who may use the admin routes (/admin/robots, /admin/retention, /admin/audit): a user named in
// stowage.auth.admins, logged in as for the registry (Basic, or a token from /token). A robot
// never is an admin, and without auth nobody is (403). Anonymous callers get the challenge (401).
import type { Context } from 'koa';
import type { AccessController } from '../auth/access-controller.js';
import { RegistryError } from '../errors/registry-error.js';
import { authorizeRequest } from './authorize-request.js';

/** The admin's user name; throws the refusal otherwise. `what` completes "... needs ..." messages. */
export async function requireAdmin(ctx: Context, access: AccessController | undefined, admins: ReadonlySet<string>, what: string): Promise<string> {
  if (!access) throw new RegistryError('DENIED', `${what} needs auth (auth.htpasswd or auth.token) and stowage.auth.admins`);
  const grant = await authorizeRequest(ctx, access, []);
  const user = grant.identity.user;
  if (user === undefined || grant.identity.robot || !admins.has(user)) {
    throw new RegistryError('DENIED', `${what} needs a user listed in stowage.auth.admins`);
  }
  return user;
}
