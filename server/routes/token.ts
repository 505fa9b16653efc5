// The built-in token endpoint (stowage.auth.issuer; Docker token spec docs/spec/auth/token.md):
// GET /token?service=&scope= with Basic credentials (or none, for an anonymous token), and the
// OAuth 2 password grant (docs/spec/auth/oauth.md) as a POST form, which containerd tries first.
// The logic is auth/token-issuer.ts; this file only reads the request and writes the answer.
// Without the built-in issuer the path answers 405 UNSUPPORTED, saying how to turn it on.
import { METHODS } from 'node:http';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { RegistryError } from '../../errors/registry-error.js';
import type { TokenIssuer } from '../../auth/token-issuer.js';
import { readLimitedBody } from '../request-body.js';
import { sendJson } from '../respond.js';
import { clientOf } from '../client-address.js';
import { noteLogin } from '../request-audit.js';

const MAX_FORM_BYTES = 16 * 1024;

function all(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function first(value: string | string[] | undefined): string | undefined {
  return all(value)[0];
}

async function token(ctx: Context, issuer: TokenIssuer | undefined): Promise<void> {
  ctx.state.route = 'token';
  if (!issuer) throw new RegistryError('UNSUPPORTED', 'no built-in token endpoint: configure auth.token and stowage.auth.issuer');
  if (ctx.method === 'GET') {
    const answer = await issuer.issue({
      authorization: ctx.get('Authorization') || undefined,
      client: clientOf(ctx),
      service: first(ctx.query.service),
      scopes: all(ctx.query.scope),
    });
    sendJson(ctx, 200, answer, { 'Cache-Control': 'no-store' });
    return;
  }
  if (ctx.method === 'POST') {
    const form = new URLSearchParams((await readLimitedBody(ctx.req, MAX_FORM_BYTES)).toString('utf8'));
    // The audit log's login: the user the form names (never its password).
    noteLogin(ctx, form.get('username') ?? undefined);
    if (form.get('grant_type') !== 'password') {
      throw new RegistryError('UNSUPPORTED', 'only grant_type=password is supported', { status: 400 });
    }
    const answer = await issuer.issue({
      credentials: { user: form.get('username') ?? '', password: form.get('password') ?? '' },
      client: clientOf(ctx),
      service: form.get('service') ?? undefined,
      scopes: form.getAll('scope'),
    });
    sendJson(
      ctx,
      200,
      { access_token: answer.access_token, expires_in: answer.expires_in, issued_at: answer.issued_at },
      { 'Cache-Control': 'no-store' },
    );
    return;
  }
  ctx.set('Allow', 'GET, POST');
  throw new RegistryError('UNSUPPORTED', `${ctx.method} is not supported here`);
}

/**
 * Registers /token on the router of server/router.ts for every method: token() answers the ones
 * it does not serve with 405 and Allow. Exactly /token, case and trailing slash included, as the
 * path was matched before it moved onto the router (the operator routes are matched loosely).
 */
export function registerTokenRoute(router: Router, issuer: TokenIssuer | undefined): void {
  router.register('/token', METHODS, (ctx: Context) => token(ctx, issuer), { strict: true, sensitive: true });
}
