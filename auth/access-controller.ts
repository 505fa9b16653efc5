// Decides whether a registry request may proceed, given what it needs (resource scopes from the
// route table in server/routes.ts). Two kinds, as Distribution's auth.htpasswd and auth.token:
// Basic credentials checked against htpasswd users and the access rules, or a Bearer token whose
// `access` claim must hold what the request needs. Refusals are RegistryErrors carrying the
// challenge: 401 UNAUTHORIZED when logging in (or a new token) may help, 403 DENIED when the
// caller is known and the rules say no, 429 TOOMANYREQUESTS while a client is locked out.
import { RegistryError } from '../errors/registry-error.js';
import { ANONYMOUS, type AccessRules, type Identity } from './access-rules.js';
import { basicChallenge, bearerChallenge, parseAuthorization } from './credentials.js';
import type { AuthLogger, PasswordLogin } from './password-login.js';
import { formatScope, grants, type Action, type ResourceAccess } from './scope.js';
import { InvalidTokenError, type TokenVerifier } from './token-verifier.js';
import { robotName, type RobotAccounts } from './robot-accounts.js';

export interface AuthRequest {
  authorization: string | undefined;
  /** The client's address, for the login limiter. */
  client: string;
  /**
   * Access a token challenge asks for beside what is needed, without requiring it: a mount's
   * source (pull), so the client's next token carries it, as Distribution asks.
   */
  optional?: ResourceAccess[];
  /** Told who the caller is once credentials are checked, before permissions are (the audit log's actor of a refusal). */
  onIdentified?: (who: Identity) => void;
}

/** Who is asking, and what they may do beyond what the request itself needed. */
export interface Grant {
  identity: Identity;
  /** Whether this request's credentials allow action on name (a mount's source needs pull). */
  allows(name: string, action: Action): boolean;
  /**
   * By the access rules alone, whatever a token holds: may the caller pull name? For the
   * catalog, and for the name a mirror request (?ns=) is served from.
   */
  canPull(name: string): boolean;
  /** By the access rules alone: may the caller do action on name? (An alias's target.) */
  may(name: string, action: Action): boolean;
}

export interface AccessController {
  /** Resolves with the grant, or throws the refusal. needed is empty for GET /v2/. */
  authorize(request: AuthRequest, needed: ResourceAccess[]): Promise<Grant>;
}

/** The error detail Distribution gives: one {Type, Name, Action} per refused action. */
function describeNeeds(needed: ResourceAccess[]): unknown {
  if (needed.length === 0) return undefined;
  return needed.flatMap((n) => n.actions.map((action) => ({ Type: n.type, Name: n.name, Action: action })));
}

/** auth.htpasswd: Basic credentials, then the access rules. */
export class HtpasswdAccessController implements AccessController {
  constructor(
    private readonly realm: string,
    private readonly login: PasswordLogin,
    private readonly rules: AccessRules,
  ) {}

  private permits(who: Identity, item: ResourceAccess): boolean {
    if (item.type === 'registry') return this.rules.grantsAnything(who);
    const allowed = this.rules.allowed(who, item.name);
    return item.actions.every((a) => allowed.has(a as Action));
  }

  async authorize(request: AuthRequest, needed: ResourceAccess[]): Promise<Grant> {
    const challenge = basicChallenge(this.realm);
    const who = await this.login.identify(request.authorization, request.client, challenge);
    request.onIdentified?.(who);
    const refused = needed.filter((item) => !this.permits(who, item));
    // GET /v2/ answers 401 to anonymous callers, so `docker login` knows to send credentials.
    if (who.user === undefined && (refused.length > 0 || needed.length === 0)) {
      throw new RegistryError('UNAUTHORIZED', 'authentication required', {
        headers: { 'WWW-Authenticate': challenge },
        detail: describeNeeds(refused),
      });
    }
    if (refused.length > 0) throw new RegistryError('DENIED', 'requested access to the resource is denied', { detail: describeNeeds(refused) });
    return {
      identity: who,
      allows: (name, action) => this.rules.allows(who, name, action),
      canPull: (name) => this.rules.allows(who, name, 'pull'),
      may: (name, action) => this.rules.allows(who, name, action),
    };
  }
}

export interface TokenControllerOptions {
  realm: string;
  service: string;
  verifier: TokenVerifier;
  rules: AccessRules;
  /**
   * Whether the rules decide what tokens hold (the built-in issuer is on). Then a known user whose
   * token lacks a scope the rules refuse gets 403 DENIED; otherwise 401 insufficient_scope, so the
   * client fetches a new token.
   */
  rulesAreAuthoritative: boolean;
  logger: AuthLogger;
  /**
   * Robot accounts: a token whose subject is `robot$NAME` counts only while that robot exists
   * and has not expired (revocation takes effect at once, for tokens already handed out too).
   */
  robots?: RobotAccounts;
}

/** auth.token: a Bearer JWT whose access claim covers the request. */
export class TokenAccessController implements AccessController {
  constructor(private readonly options: TokenControllerOptions) {}

  async authorize(request: AuthRequest, needed: ResourceAccess[]): Promise<Grant> {
    const { realm, service, verifier, rules } = this.options;
    const scope = formatScope([...needed, ...(request.optional ?? [])]);
    const unauthorized = (message: string, error?: 'invalid_token' | 'insufficient_scope') =>
      new RegistryError('UNAUTHORIZED', message, {
        headers: { 'WWW-Authenticate': bearerChallenge({ realm, service, scope, error }) },
        detail: describeNeeds(needed),
      });
    const credentials = parseAuthorization(request.authorization);
    if (credentials?.scheme !== 'bearer') throw unauthorized('authentication required');
    let token;
    try {
      token = await verifier.verify(credentials.token);
    } catch (err) {
      if (!(err instanceof InvalidTokenError)) throw err;
      this.options.logger.info({ client: request.client, reason: err.message }, 'token refused');
      throw unauthorized('invalid token', 'invalid_token');
    }
    let who = token.subject ? rules.identity(token.subject) : ANONYMOUS;
    if (this.options.robots && robotName(token.subject) !== undefined) {
      const robot = await this.options.robots.identityForToken(token.subject, token.issuedAt);
      if (!robot) {
        this.options.logger.info(
          { client: request.client, subject: token.subject.slice(0, 100), reason: 'robot removed or expired' },
          'token refused',
        );
        throw unauthorized('invalid token', 'invalid_token');
      }
      who = robot;
    }
    request.onIdentified?.(who);
    const missing = needed.filter((item) => !item.actions.every((a) => grants(token.access, item.type, item.name, a)));
    if (missing.length > 0) {
      const refusedByRules = missing.some(
        (item) => item.type === 'repository' && !item.actions.every((a) => rules.allows(who, item.name, a as Action)),
      );
      if (who.user !== undefined && this.options.rulesAreAuthoritative && refusedByRules) {
        throw new RegistryError('DENIED', 'requested access to the resource is denied', {
          headers: { 'WWW-Authenticate': bearerChallenge({ realm, service, scope, error: 'insufficient_scope' }) },
          detail: describeNeeds(missing),
        });
      }
      throw unauthorized('insufficient scope', 'insufficient_scope');
    }
    return {
      identity: who,
      allows: (name, action) => grants(token.access, 'repository', name, action),
      canPull: (name) => rules.allows(who, name, 'pull'),
      may: (name, action) => rules.allows(who, name, action),
    };
  }
}
