// The robot accounts' JSON API for admins (auth/robot-accounts.ts): GET /admin/robots lists them,
// POST creates one and answers its secret (once: only a hash is kept), DELETE /admin/robots/{name}
// removes one (its logins and tokens are refused from then on). An admin is a user named in
// stowage.auth.admins, logged in as for the registry (Basic, or a token from /token); a robot
// never is one. Without auth nobody is: credentials are not handed to whoever asks.
// Registered on the router of server/router.ts.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { RegistryError } from '../../errors/registry-error.js';
import type { AccessController } from '../../auth/access-controller.js';
import { RobotInputError, describeRobot, type RobotAccounts, type RobotRequest } from '../../auth/robot-accounts.js';
import { RobotExistsError } from '../../storage/metadata/robots.js';
import { readLimitedBody } from '../request-body.js';
import { sendEmpty, sendJson } from '../respond.js';
import { requireAdmin } from '../admin-access.js';
import { noteEvent, noteIntent } from '../request-audit.js';

export interface AdminRobotsDependencies {
  access?: AccessController;
  robots?: RobotAccounts;
  admins: ReadonlySet<string>;
}

const MAX_BODY = 64 * 1024;

function badRequest(message: string, status = 400): RegistryError {
  return new RegistryError('UNSUPPORTED', message, { status });
}

/** The robots, once the caller is shown to be an admin; throws the refusal otherwise. */
async function asAdmin(ctx: Context, { access, robots, admins }: AdminRobotsDependencies): Promise<RobotAccounts> {
  await requireAdmin(ctx, access, admins, 'managing robot accounts');
  if (!robots) throw new RegistryError('UNSUPPORTED', 'robot accounts need the metadata database (stowage.database)');
  return robots;
}

function robotRequest(body: Buffer): RobotRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw badRequest('the body must be JSON: {"name": "ci", "repositories": ["team/**"], "actions": ["pull", "push"], "expires": "90d"}');
  }
  const { name, repositories, actions, expires } = (parsed ?? {}) as Record<string, unknown>;
  const strings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string');
  if (typeof name !== 'string') throw badRequest('name must be a string');
  if (!strings(repositories)) throw badRequest('repositories must be an array of globs');
  if (!strings(actions) && typeof actions !== 'string') throw badRequest('actions must be an array of pull, push, delete');
  if (expires !== undefined && expires !== null && typeof expires !== 'string') throw badRequest('expires must be a duration such as "90d"');
  return { name, repositories: repositories as string[], actions: actions as string[], expires: expires ?? undefined };
}

export function registerAdminRobotRoutes(router: Router, deps: AdminRobotsDependencies): void {
  router.get('/admin/robots', async (ctx: Context) => {
    const robots = await asAdmin(ctx, deps);
    sendJson(ctx, 200, { robots: await robots.list() });
  });
  router.post('/admin/robots', async (ctx: Context) => {
    noteIntent(ctx, { action: 'robot-create', write: true });
    const robots = await asAdmin(ctx, deps);
    const request = robotRequest(await readLimitedBody(ctx.req, MAX_BODY));
    let created;
    try {
      created = await robots.create(request);
    } catch (err) {
      if (err instanceof RobotInputError) throw badRequest(err.message);
      if (err instanceof RobotExistsError) throw badRequest(err.message, 409);
      throw err;
    }
    noteEvent(ctx, { action: 'robot-create', detail: describeRobot(created.robot) });
    sendJson(ctx, 201, { ...created.robot, secret: created.secret }, { 'Cache-Control': 'no-store' });
  });
  router.delete('/admin/robots/:robot', async (ctx: Context) => {
    noteIntent(ctx, { action: 'robot-rm', write: true });
    const robots = await asAdmin(ctx, deps);
    const name = String(ctx.params.robot);
    if (!(await robots.remove(name)))
      throw new RegistryError('NAME_UNKNOWN', 'no such robot', { status: 404, detail: { robot: name.slice(0, 100) } });
    noteEvent(ctx, { action: 'robot-rm', detail: `robot$${name}` });
    sendEmpty(ctx, 204);
  });
}
