// Logging in with Basic credentials against the htpasswd users, or as a robot (`robot$NAME`,
// auth/robot-accounts.ts), behind the login limiter: the one place both the registry
// (auth.htpasswd) and the built-in token endpoint check a password.
import { RegistryError } from '../errors/registry-error.js';
import { ANONYMOUS, type AccessRules, type Identity } from './access-rules.js';
import { parseAuthorization } from './credentials.js';
import type { Htpasswd } from './htpasswd.js';
import type { LoginLimiter } from './login-limiter.js';
import { robotName, type RobotAccounts } from './robot-accounts.js';

export interface AuthLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export class PasswordLogin {
  constructor(
    private readonly users: Htpasswd,
    private readonly limiter: LoginLimiter,
    private readonly rules: AccessRules,
    private readonly logger: AuthLogger,
    /** Robot accounts, with a metadata database; without, `robot$...` is an unknown user. */
    private readonly robots?: RobotAccounts,
  ) {}

  /**
   * The caller's identity: anonymous without an Authorization header, the user for valid Basic
   * credentials. Anything else throws UNAUTHORIZED with challenge as WWW-Authenticate, or
   * TOOMANYREQUESTS while the client is locked out.
   */
  async identify(authorization: string | undefined, client: string, challenge: string): Promise<Identity> {
    const credentials = parseAuthorization(authorization);
    if (!credentials) return ANONYMOUS;
    if (credentials.scheme !== 'basic') throw refusal('basic credentials required', challenge);
    return this.login(credentials.user, credentials.password, client, challenge);
  }

  /** The user, when password is theirs; otherwise as identify, the refusal a LoginRefused. */
  async login(user: string, password: string, client: string, challenge: string): Promise<Identity> {
    try {
      return await this.check(user, password, client, challenge);
    } catch (err) {
      throw err instanceof RegistryError && !(err instanceof LoginRefused) && err.status < 500 ? new LoginRefused(user, err) : err;
    }
  }

  private async check(user: string, password: string, client: string, challenge: string): Promise<Identity> {
    this.limiter.check(client, user);
    if (this.robots && robotName(user) !== undefined) return this.robotLogin(this.robots, user, password, client, challenge);
    // The attempt is reserved before bcrypt runs, so guesses sent at once are all counted.
    if (await this.users.verify(user, password, () => this.limiter.begin(client, user))) return this.rules.identity(user);
    this.logger.info({ user: user.slice(0, 100), client }, 'login failed');
    throw refusal('invalid username or password', challenge);
  }

  /**
   * A robot's login. Its secret is one SHA-256 away (no worker, nothing to bound), so the limiter
   * only counts failures, and a robot pushing many layers at once is never held to `concurrent`.
   */
  private async robotLogin(robots: RobotAccounts, user: string, secret: string, client: string, challenge: string): Promise<Identity> {
    const who = await robots.authenticate(user, secret);
    if (who) return who;
    this.limiter.begin(client, user).failed();
    this.logger.info({ user: user.slice(0, 100), client }, 'login failed');
    throw refusal('invalid username or password', challenge);
  }
}

function refusal(message: string, challenge: string): RegistryError {
  return new RegistryError('UNAUTHORIZED', message, { headers: { 'WWW-Authenticate': challenge } });
}

/**
 * A password login refused (a wrong password, an unknown user, a client or user locked out): the
 * same answer, marked so that the audit log records a failed login for the user named.
 */
export class LoginRefused extends RegistryError {
  constructor(
    readonly user: string,
    refusal: RegistryError,
  ) {
    super(refusal.code, refusal.message, { status: refusal.status, detail: refusal.detail, headers: refusal.headers });
  }
}
