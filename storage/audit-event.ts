// What one audit log event holds (storage/audit-log.ts records them; storage/metadata/audit-events.ts
// keeps them as rows), and how it reads as JSON: in the file, in GET /admin/audit, in `stowage audit --json`.

/** Who acted: an htpasswd user (Basic), a robot, the subject of a Bearer token, nobody, a command run on the host, or the registry itself. */
export type AuditKind = 'user' | 'robot' | 'token' | 'anonymous' | 'cli' | 'system';
export type AuditResult = 'ok' | 'denied' | 'unauthorized' | 'error';

export interface AuditEvent {
  /** The row's id in the metadata database (absent in the file and before the write). */
  id?: number;
  /** Milliseconds since the epoch. */
  time: number;
  user?: string;
  userKind: AuditKind;
  /** The client's address (http.trustedproxies decides which one). */
  client?: string;
  /** push, delete, mount, retag, login, robot-create, robot-rm, gc, pull, list, request, ... (README "Audit log"). */
  action: string;
  repository?: string;
  /** A tag. */
  reference?: string;
  digest?: string;
  result: AuditResult;
  /** The HTTP status, for a request. */
  status?: number;
  /** A short, server-written explanation (an error's message, counts). */
  detail?: string;
  requestId?: string;
}

/** What a caller records: time defaults to now, result to ok, userKind to system. */
export type AuditEntry = Omit<AuditEvent, 'id' | 'time' | 'result' | 'userKind'> & Partial<Pick<AuditEvent, 'time' | 'result' | 'userKind'>>;

/** Who caused the events a job records: the request's caller, a command's host user, or the registry. */
export type AuditOrigin = Pick<AuditEvent, 'user' | 'userKind' | 'client' | 'requestId'>;

/** The event as read by people and tools: ISO time first, absent fields left out. */
export function auditJson(event: AuditEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (event.id !== undefined) out.id = event.id;
  out.time = new Date(event.time).toISOString();
  for (const key of [
    'user',
    'userKind',
    'client',
    'action',
    'repository',
    'reference',
    'digest',
    'result',
    'status',
    'detail',
    'requestId',
  ] as const) {
    if (event[key] !== undefined) out[key] = event[key];
  }
  return out;
}
