// What the audit log (storage/audit-log.ts) records of an HTTP request, decided once the request
// is over, from what the request noted on the way (ctx.state.audit) and how it ended:
// - done: the events the request noted (a manifest pushed, a tag deleted, a robot created: the
//   /v2 repository decorator v2/audited-repository.ts and the admin routes note them), and a
//   login when credentials were checked where clients log in (GET /v2/, /token, /api/v1/session);
// - a password refused or a client locked out, on any route (auth/password-login.ts LoginRefused):
//   a failed login for the user named;
// - refused (401, 403): what the request meant to do (its intent), with the caller. Not the 401
//   every client gets first from GET /v2/ or a listing without credentials (docker login's probe):
//   a 401 is recorded when credentials were sent, a repository was named, or it was a write;
// - failed otherwise: only intents that write (push, delete, retag, robot changes), as errors.
// Actors: a Basic user is `user`, a Bearer token's subject `token`, a robot `robot`, else `anonymous`.
import type { Context, Next } from 'koa';
import type { AuditEntry, AuditEvent, AuditLog, AuditOrigin, AuditResult } from '../storage/audit-log.js';
import type { Identity } from '../auth/access-rules.js';
import { parseAuthorization, type Credentials } from '../auth/credentials.js';
import { LoginRefused } from '../auth/password-login.js';
import { robotName } from '../auth/robot-accounts.js';
import type { RegistryError } from '../errors/registry-error.js';
import { toRegistryError } from './errors.js';
import { clientOf } from './client-address.js';

/** What a request is about to do, noted before it is authorized (so a refusal can say it). */
export interface AuditIntent {
  action: string;
  repository?: string;
  reference?: string;
  digest?: string;
  /** Record this request's failures of any kind, not only refusals (it changes something). */
  write?: boolean;
}

/** An event a request caused; the request adds who, from where, and the result. */
export type AuditDraft = Omit<AuditEntry, 'user' | 'userKind' | 'client' | 'requestId' | 'result' | 'status'>;

export interface RequestAudit {
  intent?: AuditIntent;
  events: AuditDraft[];
  /** A user name a login form sent (the token endpoint's password grant). */
  login?: string;
}

export function noteIntent(ctx: Context, intent: AuditIntent | undefined): void {
  if (ctx.state.audit) ctx.state.audit.intent = intent;
}

export function noteEvent(ctx: Context, draft: AuditDraft): void {
  ctx.state.audit?.events.push(draft);
}

export function noteLogin(ctx: Context, user: string | undefined): void {
  if (ctx.state.audit && user) ctx.state.audit.login = user;
}

const LOGIN_PATHS = new Set(['/v2/', '/v2', '/token', '/api/v1/session']);
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function kindOf(user: string, credentials: Credentials | undefined): AuditEvent['userKind'] {
  if (robotName(user) !== undefined) return 'robot';
  return credentials?.scheme === 'bearer' ? 'token' : 'user';
}

function actorOf(identity: Identity | undefined, credentials: Credentials | undefined): Pick<AuditEvent, 'user' | 'userKind'> {
  const user = identity?.user;
  if (user === undefined) return { userKind: 'anonymous' };
  return { user, userKind: identity?.robot ? 'robot' : kindOf(user, credentials) };
}

/** Who made this request, for a job that records its own events (storage/jobs/retag.ts). */
export function originOf(ctx: Context): AuditOrigin {
  const credentials = parseAuthorization(ctx.get('Authorization') || undefined);
  return { ...actorOf(ctx.state.identity, credentials), client: clientOf(ctx), requestId: ctx.state.requestId };
}

function resultOf(status: number): AuditResult {
  if (status === 401) return 'unauthorized';
  if (status === 403 || status === 429) return 'denied';
  return status >= 400 ? 'error' : 'ok';
}

function record(audit: AuditLog, ctx: Context, state: RequestAudit, failure: RegistryError | undefined): void {
  const requestId = ctx.state.requestId;
  const client = clientOf(ctx);
  if (failure instanceof LoginRefused) {
    const user = failure.user;
    audit.record({
      user,
      userKind: robotName(user) !== undefined ? 'robot' : 'user',
      client,
      requestId,
      action: 'login',
      repository: state.intent?.repository,
      result: resultOf(failure.status),
      status: failure.status,
      detail: failure.message,
    });
    return;
  }
  const isLogin = !failure && LOGIN_PATHS.has(ctx.path) && (ctx.method === 'GET' || ctx.method === 'HEAD' || ctx.method === 'POST');
  // Most requests: a pull or an upload chunk that went well. Nothing to record, nothing parsed.
  if (!failure && state.events.length === 0 && !isLogin) return;
  const credentials = parseAuthorization(ctx.get('Authorization') || undefined);
  const origin = { ...actorOf(ctx.state.identity, credentials), client, requestId };
  if (!failure) {
    const status = ctx.status;
    // Credentials checked where clients log in: a password login (Basic, or the token form).
    const user = ctx.state.identity?.user ?? (credentials?.scheme === 'basic' ? credentials.user : state.login);
    if (isLogin && user !== undefined && (credentials?.scheme === 'basic' || state.login !== undefined)) {
      audit.record({ user, userKind: kindOf(user, credentials), client, requestId, action: 'login', result: 'ok', status });
    }
    for (const draft of state.events) audit.record({ ...origin, ...draft, result: 'ok', status });
    return;
  }
  const status = failure.status;
  const intent = state.intent ?? { action: 'request' };
  if (status === 401 || status === 403) {
    const anonymousProbe = credentials === undefined && intent.repository === undefined && !WRITE_METHODS.has(ctx.method);
    if (status === 401 && anonymousProbe) return;
  } else if (!intent.write) return;
  const what = intent.action === 'request' ? `${ctx.method} ${ctx.path.slice(0, 120)}: ` : '';
  audit.record({
    ...origin,
    action: intent.action,
    repository: intent.repository,
    reference: intent.reference,
    digest: intent.digest,
    result: resultOf(status),
    status,
    detail: `${what}${failure.code}: ${failure.message}`,
  });
}

/** Records each request's events after it ended (inside errorMiddleware: it sees the error thrown). */
export function auditMiddleware(audit: AuditLog) {
  return async function auditRequest(ctx: Context, next: Next): Promise<void> {
    if (!audit.enabled) return next();
    const state: RequestAudit = { events: [] };
    ctx.state.audit = state;
    let failure: RegistryError | undefined;
    try {
      await next();
    } catch (err) {
      failure = toRegistryError(err);
      throw err;
    } finally {
      record(audit, ctx, state, failure);
    }
  };
}
