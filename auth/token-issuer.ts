// The built-in token endpoint's logic (docs/spec/auth/token.md): log the client in (Basic
// credentials, or anonymous without), grant of each requested scope what the access rules allow,
// and sign a JWT (docs/spec/auth/jwt.md) the registry's TokenVerifier trusts.
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { RegistryError } from '../errors/registry-error.js';
import { isValidName } from '../storage/grammar.js';
import type { AccessRules, Identity } from './access-rules.js';
import { basicChallenge } from './credentials.js';
import type { PasswordLogin } from './password-login.js';
import { ACTIONS, parseScope, type Action, type ResourceAccess } from './scope.js';
import type { SigningKey } from './token-keys.js';

export interface TokenRequest {
  /** The Authorization header (Basic credentials), or none for an anonymous token ... */
  authorization?: string;
  /** ... or the user and password of an OAuth 2 password grant. */
  credentials?: { user: string; password: string };
  client: string;
  service: string | undefined;
  /** Each `scope` query parameter; one may hold several space-separated scopes. */
  scopes: string[];
}

/** The JSON answer of the token endpoint; access_token repeats token for OAuth 2 clients. */
export interface TokenAnswer {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
}

export interface IssuerOptions {
  issuer: string;
  service: string;
  /** The realm of the Basic challenge when credentials are refused. */
  realm: string;
  expirySeconds: number;
  key: SigningKey;
  login: PasswordLogin;
  rules: AccessRules;
  now?: () => number;
}

export class TokenIssuer {
  constructor(private readonly options: IssuerOptions) {}

  /** What of the requested scopes who may have; items granted nothing are left out. */
  grant(who: Identity, requested: ResourceAccess[]): ResourceAccess[] {
    const out: ResourceAccess[] = [];
    for (const item of requested) {
      if (item.type === 'registry' && item.name === 'catalog') {
        if (item.actions.includes('*') && this.options.rules.grantsAnything(who)) out.push({ type: 'registry', name: 'catalog', actions: ['*'] });
        continue;
      }
      if (item.type !== 'repository' || !isValidName(item.name)) continue;
      const allowed = this.options.rules.allowed(who, item.name);
      const wanted: Action[] = item.actions.includes('*') ? [...ACTIONS] : ACTIONS.filter((a) => item.actions.includes(a));
      const actions = wanted.filter((a) => allowed.has(a));
      if (actions.length > 0) out.push({ type: 'repository', name: item.name, actions });
    }
    return out;
  }

  async issue(request: TokenRequest): Promise<TokenAnswer> {
    const { options } = this;
    if (request.service !== undefined && request.service !== options.service) {
      throw new RegistryError('DENIED', 'no tokens are issued for this service', { detail: { service: request.service.slice(0, 200) } });
    }
    const challenge = basicChallenge(options.realm);
    const who = request.credentials
      ? await options.login.login(request.credentials.user, request.credentials.password, request.client, challenge)
      : await options.login.identify(request.authorization, request.client, challenge);
    const access = this.grant(who, request.scopes.flatMap(parseScope));
    const issuedAt = Math.floor((options.now?.() ?? Date.now()) / 1000);
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: options.key.alg, typ: 'JWT', kid: options.key.kid })
      .setIssuer(options.issuer)
      .setSubject(who.user ?? '')
      .setAudience(options.service)
      .setIssuedAt(issuedAt)
      .setNotBefore(issuedAt - 1)
      .setExpirationTime(issuedAt + options.expirySeconds)
      .setJti(randomUUID())
      .sign(options.key.privateKey);
    return { token, access_token: token, expires_in: options.expirySeconds, issued_at: new Date(issuedAt * 1000).toISOString() };
  }
}
