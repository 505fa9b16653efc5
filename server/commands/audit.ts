// `stowage audit`: the audit log read from the metadata database directly (safe while the server
// runs), newest first, with the filters GET /admin/audit takes. Also who a command acts as in the
// audit log: the host user running it (kind `cli`). Resolves with the exit status: 0, 1 (no
// metadata database) or 2 (a bad filter).
import * as os from 'node:os';
import type { RegistryStorage } from '../../storage/registry.js';
import { auditJson, type AuditEvent, type AuditOrigin } from '../../storage/audit-log.js';
import type { AuditFilter } from '../../storage/metadata/audit-events.js';
import { AuditQueryError, parseAuditText, parseAuditTime } from '../audit-query.js';

type Print = (line: string) => void;

export interface AuditCommandOptions {
  since?: string;
  until?: string;
  user?: string;
  repository?: string;
  action?: string;
  limit?: string;
  json?: boolean;
}

/** Who a command run on the registry's host acts as: the host user (sudo's caller when known). */
export function commandOrigin(): AuditOrigin {
  let user = process.env.SUDO_USER;
  if (!user) {
    try {
      user = os.userInfo().username;
    } catch {
      user = process.env.USER;
    }
  }
  return { user: user || undefined, userKind: 'cli' };
}

function line(event: AuditEvent): string {
  const who = event.user ? `${event.user} (${event.userKind})` : event.userKind;
  let what = event.repository ?? '';
  if (event.reference) what += `:${event.reference}`;
  if (event.digest) what += `@${event.digest}`;
  const result = event.status === undefined ? event.result : `${event.result} ${event.status}`;
  return [new Date(event.time).toISOString(), who, event.client ?? '-', event.action, result, what || '-', event.detail ?? ''].join('  ').trimEnd();
}

export async function auditCommand(storage: RegistryStorage, options: AuditCommandOptions, print: Print, note: Print): Promise<number> {
  const store = storage.audit.store;
  if (!store) {
    note('stowage: the audit log is read from the metadata database (stowage.database)');
    return 1;
  }
  const filter: AuditFilter = { limit: 100 };
  try {
    if (options.limit !== undefined) {
      if (!/^\d{1,7}$/.test(options.limit) || Number(options.limit) < 1) throw new AuditQueryError('limit', '--limit must be a positive number');
      filter.limit = Number(options.limit);
    }
    const now = Date.now();
    if (options.since !== undefined) filter.since = parseAuditTime('since', options.since, now);
    if (options.until !== undefined) filter.until = parseAuditTime('until', options.until, now);
    for (const key of ['user', 'repository', 'action'] as const) {
      const value = options[key];
      if (value !== undefined) filter[key] = parseAuditText(key, value);
    }
  } catch (err) {
    if (!(err instanceof AuditQueryError)) throw err;
    note(`stowage: ${err.message}`);
    return 2;
  }
  const { events } = await store.page(filter);
  if (options.json) print(JSON.stringify(events.map(auditJson)));
  else for (const event of events) print(line(event));
  return 0;
}
