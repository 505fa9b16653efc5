// The audit log: who did what to the registry, and with what result. Anything may record an
// event (the HTTP layer for requests, storage jobs for their runs); recording is synchronous and
// costs a push onto a queue. The queue goes, in the order recorded, to a JSON lines file
// (stowage.audit.path) and to the metadata database's audit_events (storage/metadata/audit-events.ts)
// in small batches: within flushMs of the first event of a batch, and at close. A failed write is
// retried, its events kept ahead of later ones. Secrets are never handed to it: callers record
// names, addresses, digests and short server-written details, never credentials or query strings.
import { open, type FileHandle } from 'node:fs/promises';
import type { AuditStore } from './metadata/audit-events.js';
import { auditJson, type AuditEntry, type AuditEvent, type AuditOrigin } from './audit-event.js';

export { auditJson, type AuditEntry, type AuditEvent, type AuditKind, type AuditOrigin, type AuditResult } from './audit-event.js';

export const SYSTEM_ORIGIN: AuditOrigin = { userKind: 'system', user: 'stowage' };

export interface AuditLogOptions {
  /** The metadata database's rows; without one, events go to the file only. */
  store?: AuditStore;
  /** The JSON lines file (stowage.audit.path). */
  path?: string;
  /** Rows older than this are pruned by prune() (stowage.audit.maxage). */
  maxAgeMs?: number;
  /** How long the first event of a batch waits for others (default 200 ms). */
  flushMs?: number;
  now?: () => number;
  onProblem?: (problem: { error?: unknown; dropped?: number }) => void;
}

/** The default of stowage.audit.maxage: 90 days. */
export const DEFAULT_AUDIT_MAX_AGE_MS = 90 * 86_400_000;
/** Events held while the file or database cannot be written; past it the newest are dropped and counted. */
const MAX_PENDING = 100_000;
/** After a failed write, the next try waits this long. */
const RETRY_MS = 5000;

const LIMITS: Partial<Record<keyof AuditEvent, number>> = {
  user: 100,
  client: 64,
  action: 40,
  repository: 256,
  reference: 128,
  digest: 140,
  detail: 300,
  requestId: 100,
};

export class AuditLog {
  private fileQueue: string[] = [];
  private rowQueue: AuditEvent[] = [];
  private file?: FileHandle;
  private writing?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private failedAt = 0;
  private dropped = 0;
  private closed = false;
  private readonly now: () => number;
  private readonly flushMs: number;
  readonly store?: AuditStore;
  readonly path?: string;
  readonly maxAgeMs: number;
  onProblem?: AuditLogOptions['onProblem'];

  constructor(options: AuditLogOptions = {}) {
    this.store = options.store;
    this.path = options.path;
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_AUDIT_MAX_AGE_MS;
    this.flushMs = options.flushMs ?? 200;
    this.now = options.now ?? Date.now;
    this.onProblem = options.onProblem;
  }

  /** Whether events go anywhere (a metadata database or a file). */
  get enabled(): boolean {
    return this.store !== undefined || this.path !== undefined;
  }

  /** Queues one event; it is written within flushMs, in the order recorded. */
  record(entry: AuditEntry): void {
    if (!this.enabled || this.closed) return;
    const event: AuditEvent = { ...entry, time: entry.time ?? this.now(), result: entry.result ?? 'ok', userKind: entry.userKind ?? 'system' };
    for (const [key, limit] of Object.entries(LIMITS) as Array<[keyof AuditEvent, number]>) {
      const value = event[key];
      if (typeof value === 'string' && value.length > limit) (event as unknown as Record<string, unknown>)[key] = value.slice(0, limit);
      else if (value === '') delete event[key];
    }
    if (this.fileQueue.length + this.rowQueue.length >= MAX_PENDING) {
      this.dropped++;
      return;
    }
    if (this.path !== undefined) this.fileQueue.push(JSON.stringify(auditJson(event)) + '\n');
    if (this.store) this.rowQueue.push(event);
    this.schedule();
  }

  /** Writes every event recorded so far; resolves once they are written (or kept after a failure). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.fileQueue.length === 0 && this.rowQueue.length === 0) return this.reportDropped();
    const lines = this.fileQueue;
    const rows = this.rowQueue;
    this.fileQueue = [];
    this.rowQueue = [];
    const write = Promise.all([this.writeLines(lines), this.writeRows(rows)])
      .then(() => undefined)
      .finally(() => {
        this.writing = undefined;
      });
    this.writing = write;
    await write;
    this.reportDropped();
    if (this.fileQueue.length > 0 || this.rowQueue.length > 0) this.schedule();
  }

  /** Closes the file; the next write opens it again (logrotate's SIGHUP). */
  reopen(): void {
    const file = this.file;
    this.file = undefined;
    // A write in progress holds its handle; it is closed once that write is done.
    void (this.writing ?? Promise.resolve()).then(() => file?.close()).catch(() => {});
  }

  /** Deletes rows older than maxAge; resolves with how many. */
  async prune(): Promise<number> {
    if (!this.store) return 0;
    return this.store.prune(this.now() - this.maxAgeMs);
  }

  /** Writes what is left and closes the file; later events are not recorded. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    await this.file?.close();
    this.file = undefined;
  }

  private schedule(): void {
    if (this.timer || this.writing) return;
    const wait = this.now() - this.failedAt < RETRY_MS ? RETRY_MS : this.flushMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, wait);
    // A process with nothing else to do may exit; close() writes what is left.
    this.timer.unref();
  }

  private async writeLines(lines: string[]): Promise<void> {
    if (lines.length === 0 || this.path === undefined) return;
    try {
      this.file ??= await open(this.path, 'a', 0o640);
      await this.file.write(lines.join(''));
    } catch (error) {
      // Opened again for the next try: the path may have been fixed meanwhile.
      const file = this.file;
      this.file = undefined;
      void file?.close().catch(() => {});
      this.failedAt = this.now();
      this.fileQueue = lines.concat(this.fileQueue);
      this.onProblem?.({ error });
    }
  }

  private async writeRows(rows: AuditEvent[]): Promise<void> {
    if (rows.length === 0 || !this.store) return;
    try {
      await this.store.insert(rows);
    } catch (error) {
      this.failedAt = this.now();
      this.rowQueue = rows.concat(this.rowQueue);
      this.onProblem?.({ error });
    }
  }

  private reportDropped(): void {
    if (this.dropped === 0) return;
    this.onProblem?.({ dropped: this.dropped });
    this.dropped = 0;
  }
}
