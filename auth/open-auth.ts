// Builds the registry's authentication from its settings at start-up: reads the htpasswd file,
// the certificate bundle and the signing key (generating it at first start), and wires the access
// controller the server asks on each request and, when configured, the built-in token issuer.
// Robot accounts (auth/robot-accounts.ts) join both as a second source of identities when the
// registry has a metadata database.
import path from 'node:path';
import { AccessRules, type AccessRule } from './access-rules.js';
import { HtpasswdAccessController, TokenAccessController, type AccessController } from './access-controller.js';
import { Htpasswd } from './htpasswd.js';
import { LoginLimiter, type LoginLimits } from './login-limiter.js';
import { PasswordLogin, type AuthLogger } from './password-login.js';
import { TokenIssuer } from './token-issuer.js';
import { loadSigningKey } from './token-keys.js';
import { RobotAccounts } from './robot-accounts.js';
import type { RobotStore } from '../storage/metadata/robots.js';
import { TokenVerifier, readCertificateBundle, readJwks, type VerifierOptions } from './token-verifier.js';

export interface AuthSettings {
  /** Distribution's auth.htpasswd. */
  htpasswd?: { realm: string; path: string };
  /** Distribution's auth.token. */
  token?: { realm: string; service: string; issuer: string; rootcertbundle?: string; jwks?: string };
  /** The built-in token endpoint: its users, signing key and token lifetime. */
  issuer?: { htpasswd: string; key?: string; expiryMs: number };
  groups: Record<string, string[]>;
  /** undefined: logged-in users may do everything (Distribution's behaviour). */
  access?: AccessRule[];
  loginLimits: LoginLimits;
  /** Where a generated signing key is kept when issuer.key is not set (the data directory). */
  dataDirectory?: string;
  /** Users who may manage robot accounts through the JSON API (stowage.auth.admins). */
  admins?: string[];
}

export interface RegistryAuth {
  controller: AccessController;
  /** The built-in token endpoint, when configured. */
  issuer?: TokenIssuer;
  /** Robot accounts, when the registry has a metadata database. */
  robots?: RobotAccounts;
  /** Users who may manage robots (stowage.auth.admins); a robot never is one. */
  admins: ReadonlySet<string>;
}

export class AuthSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthSetupError';
  }
}

async function orSetupError<T>(what: string, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    throw new AuthSetupError(`${what}: ${(err as Error).message}`);
  }
}

/** The default place of a generated token signing key inside the data directory. */
export function defaultSigningKeyPath(dataDirectory: string): string {
  return path.join(dataDirectory, 'auth', 'token-signing-key.pem');
}

/** robotStore: the metadata database's robots (storage.robots); without it there are no robot accounts. */
export async function openAuth(settings: AuthSettings, logger: AuthLogger, robotStore?: RobotStore): Promise<RegistryAuth | undefined> {
  const rules = new AccessRules(settings.access, settings.groups);
  const robots = robotStore
    ? new RobotAccounts(robotStore, { onTouchError: (err) => logger.warn({ err: err.message }, 'robot last use not recorded') })
    : undefined;
  const admins: ReadonlySet<string> = new Set(settings.admins ?? []);
  const limiter = new LoginLimiter(settings.loginLimits);
  const reloadFailed = (err: Error) => logger.warn({ err: err.message }, 'htpasswd file not reloaded; keeping the users read before');
  if (settings.htpasswd && settings.token) throw new AuthSetupError('auth: configure either htpasswd or token, not both');

  if (settings.htpasswd) {
    if (settings.issuer) throw new AuthSetupError('stowage.auth.issuer needs auth.token (the registry then accepts the tokens it issues)');
    const users = await orSetupError('auth.htpasswd', Htpasswd.open(settings.htpasswd.path, reloadFailed));
    if (users.size === 0) logger.warn({ path: settings.htpasswd.path }, 'the htpasswd file holds no users: nobody can log in');
    const login = new PasswordLogin(users, limiter, rules, logger, robots);
    return { controller: new HtpasswdAccessController(settings.htpasswd.realm, login, rules), robots, admins };
  }

  if (settings.token) {
    const token = settings.token;
    const verifierOptions: VerifierOptions = { issuer: token.issuer, service: token.service, keys: [] };
    if (token.rootcertbundle)
      verifierOptions.rootCertificates = await orSetupError('auth.token.rootcertbundle', readCertificateBundle(token.rootcertbundle));
    if (token.jwks) verifierOptions.keys!.push(...(await orSetupError('auth.token.jwks', readJwks(token.jwks))));
    let issuer: TokenIssuer | undefined;
    if (settings.issuer) {
      const keyPath = settings.issuer.key ?? (settings.dataDirectory ? defaultSigningKeyPath(settings.dataDirectory) : undefined);
      if (!keyPath) throw new AuthSetupError('stowage.auth.issuer.key is required when storage is not a filesystem directory');
      const key = await orSetupError('stowage.auth.issuer.key', loadSigningKey(keyPath, { create: settings.issuer.key === undefined }));
      verifierOptions.keys!.push({ key: key.publicKey, kid: key.kid });
      const users = await orSetupError('stowage.auth.issuer.htpasswd', Htpasswd.open(settings.issuer.htpasswd, reloadFailed));
      const login = new PasswordLogin(users, limiter, rules, logger, robots);
      issuer = new TokenIssuer({
        issuer: token.issuer,
        service: token.service,
        realm: token.realm,
        expirySeconds: Math.max(1, Math.round(settings.issuer.expiryMs / 1000)),
        key,
        login,
        rules,
      });
    } else if (!token.rootcertbundle && !token.jwks) {
      throw new AuthSetupError('auth.token needs rootcertbundle (or jwks) to trust an issuer, or stowage.auth.issuer for the built-in one');
    }
    const verifier = await TokenVerifier.create(verifierOptions);
    const controller = new TokenAccessController({
      realm: token.realm,
      service: token.service,
      verifier,
      rules,
      rulesAreAuthoritative: issuer !== undefined,
      logger,
      robots,
    });
    return { controller, issuer, robots, admins };
  }

  if (settings.issuer) throw new AuthSetupError('stowage.auth.issuer needs auth.token (realm, service, issuer)');
  if (settings.access) logger.warn({}, 'stowage.auth.access has no effect without auth.htpasswd or auth.token: the registry is open');
  return undefined;
}
