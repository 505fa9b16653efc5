// GET /admin/audit: the audit log (storage/audit-log.ts) for admins, newest first, filtered by
// since, until, user, repository and action, one page at a time (n, and an opaque cursor; the
// Link header names the next page, as the JSON API's lists do). An admin is a user named in
// stowage.auth.admins (robots never are); anonymous callers get 401, others 403. Events still
// batched in memory are written first, so a reader sees what it just did.
// Registered on the router of server/router.ts.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { RegistryError } from '../../errors/registry-error.js';
import type { AccessController } from '../../auth/access-controller.js';
import { auditJson } from '../../storage/audit-log.js';
import type { RegistryStorage } from '../../storage/registry.js';
import type { AuditFilter } from '../../storage/metadata/audit-events.js';
import { requireAdmin } from '../admin-access.js';
import { AuditQueryError, parseAuditText, parseAuditTime } from '../audit-query.js';
import { sendJson } from '../respond.js';
import { badParameter, decodeCursor, encodeCursor, linkTo, nextUrl, single } from './api-request.js';

export interface AdminAuditDependencies {
  storage: RegistryStorage;
  access?: AccessController;
  admins: ReadonlySet<string>;
}

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
const FILTERS = ['since', 'until', 'user', 'repository', 'action'] as const;

async function assertAdmin(ctx: Context, { access, admins }: AdminAuditDependencies): Promise<void> {
  await requireAdmin(ctx, access, admins, 'reading the audit log');
}

function filterOf(ctx: Context, now: number): AuditFilter {
  const raw = single(ctx.query.n);
  if (raw !== undefined && !/^\d{1,6}$/.test(raw)) throw badParameter('n', 'n must be a number of events', raw);
  const filter: AuditFilter = { limit: Math.max(1, Math.min(raw === undefined ? DEFAULT_PAGE : Number(raw), MAX_PAGE)) };
  try {
    const since = single(ctx.query.since);
    const until = single(ctx.query.until);
    if (since !== undefined) filter.since = parseAuditTime('since', since, now);
    if (until !== undefined) filter.until = parseAuditTime('until', until, now);
    for (const key of ['user', 'repository', 'action'] as const) {
      const value = single(ctx.query[key]);
      if (value !== undefined) filter[key] = parseAuditText(key, value);
    }
  } catch (err) {
    if (err instanceof AuditQueryError) throw badParameter(err.parameter, err.message, single(ctx.query[err.parameter]));
    throw err;
  }
  const cursor = decodeCursor(ctx, 'audit', 'desc');
  if (cursor) filter.before = cursor.key;
  return filter;
}

export function registerAdminAuditRoutes(router: Router, deps: AdminAuditDependencies): void {
  router.get('/admin/audit', async (ctx: Context) => {
    await assertAdmin(ctx, deps);
    const { audit } = deps.storage;
    if (!audit.store) throw new RegistryError('UNSUPPORTED', 'the audit log is read from the metadata database (stowage.database)');
    const filter = filterOf(ctx, Date.now());
    await audit.flush();
    const page = await audit.store.page(filter);
    // The next page keeps the filters, a relative since or until made absolute: the same window.
    const params: Record<string, string | undefined> = { n: String(filter.limit) };
    for (const key of FILTERS) params[key] = single(ctx.query[key]);
    if (filter.since !== undefined) params.since = new Date(filter.since).toISOString();
    if (filter.until !== undefined) params.until = new Date(filter.until).toISOString();
    params.cursor = page.next === undefined ? undefined : encodeCursor({ sort: 'audit', order: 'desc', key: page.next, name: '' });
    const next = nextUrl('/admin/audit', page.next !== undefined, params);
    sendJson(ctx, 200, { events: page.events.map(auditJson), next: next ?? null }, { ...linkTo(next), 'Cache-Control': 'no-store' });
  });
}
