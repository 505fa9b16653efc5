// The audit log's rows in the metadata database (migration 0005): batched inserts, the filtered
// newest-first pages GET /admin/audit and `stowage audit` read (keyset paging by id), and pruning
// of rows older than stowage.audit.maxage. What an event holds is storage/audit-log.ts's.
import type { MetadataDatabase } from './database.js';
import type { Selectable } from 'kysely';
import type { AuditEventsTable } from './schema.js';
import type { AuditEvent, AuditKind, AuditResult } from '../audit-event.js';

export interface AuditFilter {
  /** Events at or after this time (ms). */
  since?: number;
  /** Events before this time (ms). */
  until?: number;
  user?: string;
  repository?: string;
  action?: string;
  /** Events older than this id (the cursor of the page before). */
  before?: number;
  limit: number;
}

export interface AuditPage {
  events: AuditEvent[];
  /** The cursor of the next (older) page; undefined on the last one. */
  next?: number;
}

/** Rows per INSERT: 13 parameters each stays far below SQLite's limit of 32,766. */
const INSERT_CHUNK = 500;

function toRow(event: AuditEvent): Omit<AuditEventsTable, 'id'> {
  return {
    at: event.time,
    actor: event.user ?? null,
    actor_kind: event.userKind,
    client: event.client ?? null,
    action: event.action,
    repository: event.repository ?? null,
    reference: event.reference ?? null,
    digest: event.digest ?? null,
    result: event.result,
    status: event.status ?? null,
    detail: event.detail ?? null,
    request_id: event.requestId ?? null,
  };
}

function fromRow(row: Selectable<AuditEventsTable>): AuditEvent {
  const event: AuditEvent = {
    id: Number(row.id),
    time: Number(row.at),
    userKind: row.actor_kind as AuditKind,
    action: row.action,
    result: row.result as AuditResult,
  };
  if (row.actor !== null) event.user = row.actor;
  if (row.client !== null) event.client = row.client;
  if (row.repository !== null) event.repository = row.repository;
  if (row.reference !== null) event.reference = row.reference;
  if (row.digest !== null) event.digest = row.digest;
  if (row.status !== null) event.status = Number(row.status);
  if (row.detail !== null) event.detail = row.detail;
  if (row.request_id !== null) event.requestId = row.request_id;
  return event;
}

export class AuditStore {
  constructor(readonly database: MetadataDatabase) {}

  /** Inserts the events in their order (one transaction), so ids follow the order they were recorded in. */
  async insert(events: AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.database.db.transaction().execute(async (trx) => {
      for (let i = 0; i < events.length; i += INSERT_CHUNK) {
        await trx
          .insertInto('audit_events')
          .values(events.slice(i, i + INSERT_CHUNK).map(toRow))
          .execute();
      }
    });
  }

  /** One page of events matching the filter, newest first. */
  async page(filter: AuditFilter): Promise<AuditPage> {
    let query = this.database.db.selectFrom('audit_events').selectAll();
    if (filter.since !== undefined) query = query.where('at', '>=', filter.since);
    if (filter.until !== undefined) query = query.where('at', '<', filter.until);
    if (filter.user !== undefined) query = query.where('actor', '=', filter.user);
    if (filter.repository !== undefined) query = query.where('repository', '=', filter.repository);
    if (filter.action !== undefined) query = query.where('action', '=', filter.action);
    if (filter.before !== undefined) query = query.where('id', '<', filter.before);
    const rows = await query
      .orderBy('id', 'desc')
      .limit(filter.limit + 1)
      .execute();
    const events = rows.slice(0, filter.limit).map(fromRow);
    return { events, next: rows.length > filter.limit ? events.at(-1)!.id : undefined };
  }

  /** Deletes the events recorded before `before` (ms); resolves with how many. */
  async prune(before: number): Promise<number> {
    const deleted = await this.database.db.deleteFrom('audit_events').where('at', '<', before).executeTakeFirst();
    return Number(deleted.numDeletedRows);
  }
}
