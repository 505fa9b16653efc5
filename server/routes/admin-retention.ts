// The retention policies (stowage.retention) over HTTP, for admins: GET /admin/retention/plan is a
// dry run (what a run would delete, and why), POST /admin/retention/run runs them (tags, then
// manifests, then garbage collection; refused read-only or with deletes disabled) and answers the report. Both take ?now= to evaluate as if
// at another time. An admin is a user named in stowage.auth.admins (as for /admin/robots); a
// robot never is one, and without auth nobody is. Registered on the router of server/router.ts.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { RegistryError } from '../../errors/registry-error.js';
import type { AccessController } from '../../auth/access-controller.js';
import type { RegistryStorage } from '../../storage/registry.js';
import { runRetention } from '../../storage/retention/run.js';
import type { RegistryConfig } from '../config.js';
import { sendJson } from '../respond.js';
import { requireAdmin } from '../admin-access.js';
import { originOf } from '../request-audit.js';
import { parseEvaluationTime, refuseRealRun, retentionRepositories, retentionSettings, type RetentionSettings } from '../retention.js';
import type { Notifier } from '../../notifications/notifier.js';

export interface AdminRetentionDependencies {
  config: RegistryConfig;
  storage: RegistryStorage;
  access?: AccessController;
  admins: ReadonlySet<string>;
  /** Webhook notifications: a run's deletions send delete events, as the API's DELETE does. */
  notifier?: Notifier;
}

/** The settings and the admin, once the caller is shown to be one (401 anonymous, 403 anyone else). */
async function asAdmin(
  ctx: Context,
  { config, access, admins }: AdminRetentionDependencies,
): Promise<{ settings: RetentionSettings; admin: string }> {
  const user = await requireAdmin(ctx, access, admins, 'retention over HTTP');
  const settings = retentionSettings(config);
  if (!settings) throw new RegistryError('UNSUPPORTED', 'the configuration has no stowage.retention policies', { status: 404 });
  return { settings, admin: user };
}

function evaluationTime(ctx: Context): number | undefined {
  const now = ctx.query.now;
  if (now === undefined) return undefined;
  if (typeof now !== 'string') throw new RegistryError('UNSUPPORTED', 'now must be given once', { status: 400 });
  return parseEvaluationTime(now);
}

export function registerAdminRetentionRoutes(router: Router, deps: AdminRetentionDependencies): void {
  router.get('/admin/retention/plan', async (ctx: Context) => {
    const { settings } = await asAdmin(ctx, deps);
    sendJson(ctx, 200, await runRetention(deps.storage, { ...settings, dryRun: true, now: evaluationTime(ctx) }));
  });
  router.post('/admin/retention/run', async (ctx: Context) => {
    const { settings, admin } = await asAdmin(ctx, deps);
    refuseRealRun(deps.config);
    const repository = retentionRepositories(deps.storage, deps.notifier, admin);
    sendJson(ctx, 200, await runRetention(deps.storage, { ...settings, repository, now: evaluationTime(ctx), origin: originOf(ctx) }));
  });
}
