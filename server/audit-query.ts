// The filters of the audit log's readers (GET /admin/audit, `stowage audit`), parsed the same way
// for both: since and until as a duration back from now ("24h") or an ISO time, the others as
// exact values. A bad value throws AuditQueryError naming the parameter.
import { parseDuration } from './config.js';

export class AuditQueryError extends Error {
  constructor(
    readonly parameter: string,
    message: string,
  ) {
    super(message);
    this.name = 'AuditQueryError';
  }
}

/** "24h" (that long ago) or an ISO 8601 time, as ms since the epoch. */
export function parseAuditTime(parameter: string, value: string, now: number): number {
  if (/^\d+(\.\d+)?(ms|s|m|h|d)/.test(value)) {
    try {
      return now - parseDuration(value);
    } catch {
      // Not a duration after all: tried as a time below.
    }
  }
  const time = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(time))
    throw new AuditQueryError(parameter, `${parameter} must be a duration back from now (24h, 7d) or an ISO time (2026-01-31T12:00:00Z)`);
  return time;
}

/** An actions' or names' filter value: bounded, or refused. */
export function parseAuditText(parameter: string, value: string): string {
  if (value.length === 0 || value.length > 256) throw new AuditQueryError(parameter, `${parameter} must be 1 to 256 characters`);
  return value;
}
