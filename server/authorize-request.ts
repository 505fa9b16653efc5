// Asks auth/ whether a request may proceed, the one way every route does: the Authorization
// header, the client address (server/client-address.ts) for the login limiter, and the caller's
// identity kept in ctx.state.identity for the audit log, also when the answer is a refusal.
import type { Context } from 'koa';
import type { AccessController, Grant } from '../auth/access-controller.js';
import type { ResourceAccess } from '../auth/scope.js';
import { clientOf } from './client-address.js';

export function authorizeRequest(ctx: Context, access: AccessController, needed: ResourceAccess[], optional?: ResourceAccess[]): Promise<Grant> {
  return access.authorize(
    {
      authorization: ctx.get('Authorization') || undefined,
      client: clientOf(ctx),
      optional,
      onIdentified: (who) => {
        ctx.state.identity = who;
      },
    },
    needed,
  );
}
