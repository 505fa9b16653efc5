// Robot accounts: credentials for CI that are not a person's password. A robot logs in as
// `robot$NAME` with a random secret (Basic, or through /token) and may do exactly its grants
// (repository globs x actions), whatever the access rules say of users: as Harbor's robots, its
// grants alone decide, never more, never less. Rows live in the metadata database
// (storage/metadata/robots.ts). A removed or expired robot is refused at once: its logins, and
// the tokens it holds (the token check looks the robot up again, cached for CACHE_MS at most, so
// another replica's removal is seen within that bound).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { compileGlob } from '../storage/grammar.js';
import { REPOSITORY_GLOB_RE } from '../storage/immutable-tags.js';
import type { RobotRecord, RobotStore } from '../storage/metadata/robots.js';
import type { Identity, RobotGrants } from './access-rules.js';
import { ACTIONS, type Action } from './scope.js';

/** The login name of robot NAME is `robot$NAME` (Harbor's spelling, which docker login accepts). */
export const ROBOT_PREFIX = 'robot$';
/** How long a robot's row is trusted without asking the database again. */
export const CACHE_MS = 2000;

const NAME_RE = /^[a-z0-9_-]{1,64}$/;
const MAX_GLOBS = 100;
const DURATION_UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** Input a robot cannot be made of (the CLI exits 2, the API answers 400). */
export class RobotInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RobotInputError';
  }
}

export function parseRobotName(name: string): string {
  if (!NAME_RE.test(name)) throw new RobotInputError(`invalid robot name ${JSON.stringify(name.slice(0, 80))}: use 1 to 64 of a-z 0-9 - _`);
  return name;
}

/** "pull,push" or ["pull", "push"] to actions, each once, in ACTIONS order. */
export function parseRobotActions(actions: string | string[]): Action[] {
  const listed = (Array.isArray(actions) ? actions : actions.split(',')).map((a) => a.trim()).filter(Boolean);
  if (listed.length === 0) throw new RobotInputError('a robot needs actions: pull, push and/or delete');
  for (const a of listed) {
    if (!(ACTIONS as readonly string[]).includes(a))
      throw new RobotInputError(`invalid action ${JSON.stringify(a.slice(0, 40))}: use pull, push, delete`);
  }
  return ACTIONS.filter((a) => listed.includes(a));
}

/** Repository globs as the access rules write them (`*` within a component, `**` across). */
export function parseRobotRepositories(globs: string[]): string[] {
  if (globs.length === 0) throw new RobotInputError('a robot needs repositories: one or more globs such as team/** or app');
  if (globs.length > MAX_GLOBS) throw new RobotInputError(`at most ${MAX_GLOBS} repository globs`);
  for (const glob of globs) {
    const badSegment = glob.split('/').some((segment) => segment === '' || segment === '.' || segment === '..');
    if (glob.length > 255 || !REPOSITORY_GLOB_RE.test(glob) || badSegment)
      throw new RobotInputError(`invalid repository glob ${JSON.stringify(glob.slice(0, 80))}: use a-z 0-9 . _ - / * ?`);
  }
  return [...new Set(globs)];
}

/** "90d", "12h", "2w", "1d12h" to milliseconds; at least one minute. */
export function parseRobotExpiry(value: string): number {
  let total = 0;
  let rest = value.trim();
  if (!rest) throw new RobotInputError('empty expiry');
  while (rest) {
    const m = /^(\d{1,6})(m|h|d|w)/.exec(rest);
    if (!m) throw new RobotInputError(`invalid expiry ${JSON.stringify(value.slice(0, 40))}: use e.g. 30m, 12h, 90d, 2w`);
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    rest = rest.slice(m[0].length);
  }
  if (total < 60_000) throw new RobotInputError('an expiry must be at least one minute');
  return total;
}

/** The robot's name when login is a robot's login name. */
export function robotName(login: string): string | undefined {
  return login.startsWith(ROBOT_PREFIX) ? login.slice(ROBOT_PREFIX.length) : undefined;
}

export function compileRobotGrants(repositories: string[], actions: readonly Action[]): RobotGrants {
  return { repositories: repositories.map(compileGlob), actions };
}

/** A robot as listed: everything but the secret's hash. */
export interface RobotView {
  name: string;
  login: string;
  repositories: string[];
  actions: string[];
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

/** One line about a robot, without its secret (the audit log's detail). */
export function describeRobot(robot: RobotView): string {
  return `${robot.login}: ${robot.actions.join(',')} on ${robot.repositories.join(' ')}${robot.expiresAt ? `, expires ${robot.expiresAt}` : ''}`;
}

export interface RobotRequest {
  name: string;
  repositories: string[];
  actions: string | string[];
  /** Lifetime ("90d"); undefined: never expires. */
  expires?: string;
}

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

export function viewOf(robot: RobotRecord): RobotView {
  return {
    name: robot.name,
    login: ROBOT_PREFIX + robot.name,
    repositories: robot.repositories,
    actions: robot.actions,
    createdAt: new Date(robot.createdAt).toISOString(),
    expiresAt: iso(robot.expiresAt),
    lastUsedAt: iso(robot.lastUsedAt),
  };
}

/** Checks a robot request and makes its record and secret; the secret is shown once and never stored. */
export function makeRobot(request: RobotRequest, now: number): { record: RobotRecord; secret: string } {
  const name = parseRobotName(request.name);
  const repositories = parseRobotRepositories(request.repositories);
  const actions = parseRobotActions(request.actions);
  const expiresAt = request.expires === undefined ? undefined : now + parseRobotExpiry(request.expires);
  // 256 random bits: nothing to guess, so SHA-256 is enough (storage/metadata/robots.ts).
  const secret = randomBytes(32).toString('base64url');
  return { record: { name, secretHash: hashSecret(secret), repositories, actions, createdAt: now, expiresAt }, secret };
}

export interface RobotAccountsOptions {
  now?: () => number;
  /** Told when writing a robot's last use failed (a statistic: the login still succeeds). */
  onTouchError?: (err: Error) => void;
}

/** The robots as a source of identities, for logins and token checks. */
export class RobotAccounts {
  private readonly cache = new Map<string, { robot: RobotRecord | undefined; at: number }>();
  private readonly now: () => number;

  constructor(
    readonly store: RobotStore,
    private readonly options: RobotAccountsOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  async create(request: RobotRequest): Promise<{ robot: RobotView; secret: string }> {
    const { record, secret } = makeRobot(request, this.now());
    await this.store.create(record);
    this.cache.delete(record.name);
    return { robot: viewOf(record), secret };
  }

  async list(): Promise<RobotView[]> {
    return (await this.store.list()).map(viewOf);
  }

  async remove(name: string): Promise<boolean> {
    this.cache.delete(name);
    return this.store.remove(name);
  }

  /** The robot unless removed or expired; its row is re-read after CACHE_MS. */
  private async current(name: string): Promise<RobotRecord | undefined> {
    const now = this.now();
    let entry = this.cache.get(name);
    if (!entry || now - entry.at >= CACHE_MS) {
      entry = { robot: await this.store.get(name), at: now };
      if (this.cache.size >= 1000) this.cache.clear();
      this.cache.set(name, entry);
    }
    const robot = entry.robot;
    if (!robot || (robot.expiresAt !== undefined && robot.expiresAt <= now)) return undefined;
    return robot;
  }

  private identity(robot: RobotRecord): Identity {
    void this.store.touch(robot.name, this.now()).catch((err: Error) => this.options.onTouchError?.(err));
    return { user: ROBOT_PREFIX + robot.name, groups: [], robot: compileRobotGrants(robot.repositories, robot.actions as Action[]) };
  }

  /** The robot's identity when secret is its own and it is neither removed nor expired. */
  async authenticate(login: string, secret: string): Promise<Identity | undefined> {
    const name = robotName(login);
    if (name === undefined || !NAME_RE.test(name)) return undefined;
    const robot = await this.current(name);
    const given = Buffer.from(hashSecret(secret), 'hex');
    const stored = Buffer.from(robot?.secretHash ?? '', 'hex');
    if (!robot || stored.length !== given.length || !timingSafeEqual(given, stored)) return undefined;
    return this.identity(robot);
  }

  /**
   * The identity behind a token issued to subject `robot$NAME`, or undefined when that robot is
   * gone, expired, or was made again after the token was issued (issuedAt, seconds).
   */
  async identityForToken(subject: string, issuedAt: number | undefined): Promise<Identity | undefined> {
    const name = robotName(subject);
    if (name === undefined || !NAME_RE.test(name)) return undefined;
    const robot = await this.current(name);
    if (!robot) return undefined;
    if (issuedAt !== undefined && issuedAt < Math.floor(robot.createdAt / 1000)) return undefined;
    return this.identity(robot);
  }
}
