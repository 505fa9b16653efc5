// The one place where a thrown error becomes an answer: the spec's JSON error envelope with the
// status from errors/registry-error.ts, the headers its code and detail call for, and the log
// level chosen here (5xx as errors with the stack, client mistakes at info, a client hanging up
// mid-transfer at info, never as a failure).
// Refusals the server gives on purpose (load shedding, a full disk) are one log line each,
// without a stack: they are expected, and a stack per request would flood the log under load.
import type { Context, Next } from 'koa';
import { RegistryError, type ErrorCode } from '../errors/registry-error.js';
import type { Logger } from './logger.js';
import { lingerAfterAnswer } from './linger.js';
import { rangeHeader } from './respond.js';

const CLIENT_GONE = new Set(['ECONNRESET', 'ERR_STREAM_PREMATURE_CLOSE', 'ECONNABORTED', 'EPIPE', 'ABORT_ERR']);
/** The filesystem's "no space left" and "quota exceeded". */
const STORAGE_FULL = new Set(['ENOSPC', 'EDQUOT']);

function isClientGone(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  return !!e && ((e.code !== undefined && CLIENT_GONE.has(e.code)) || e.message === 'aborted');
}

/**
 * An answer the server chooses to give rather than a failure: logged as one line at `level`,
 * counted by `reason` (stowage_requests_refused_total). `fault` says the registry cannot do its
 * job (a full disk), so it counts as an internal error too; load shedding does not.
 */
export class Refusal extends RegistryError {
  readonly reason: string;
  readonly level: 'warn' | 'error';
  readonly fault: boolean;

  constructor(
    reason: string,
    code: ErrorCode,
    message: string,
    options: { detail?: unknown; status?: number; headers?: Record<string, string>; level?: 'warn' | 'error'; fault?: boolean } = {},
  ) {
    // Expected answers need no stack (RegistryError captures one for every 5xx).
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(code, message, options);
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.reason = reason;
    this.level = options.level ?? 'warn';
    this.fault = options.fault ?? false;
  }
}

/** The errno code of err or of an error it wraps (drivers and pipelines may wrap it). */
function errnoCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && STORAGE_FULL.has(code)) return code;
  }
  return undefined;
}

/**
 * A write the storage has no room for: 507 Insufficient Storage, which says exactly that (a 503
 * would invite clients and proxies to resend whole layers at once into the same full disk).
 * Nothing is acknowledged before the bytes are committed, so nothing acknowledged is lost.
 */
function storageFull(code: string): Refusal {
  return new Refusal('storage_full', 'UNAVAILABLE', 'the registry storage is full; retry once space is freed', {
    status: 507,
    detail: { reason: code === 'EDQUOT' ? 'quota exceeded' : 'no space left on device' },
    level: 'error',
    fault: true,
  });
}

/** Turns anything thrown into a RegistryError: Koa's HTTP errors keep their status. */
export function toRegistryError(err: unknown): RegistryError {
  if (err instanceof RegistryError) return err;
  const full = errnoCode(err);
  if (full) return storageFull(full);
  const status = (err as { status?: number; expose?: boolean }).status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new RegistryError(status === 413 ? 'SIZE_INVALID' : 'UNSUPPORTED', (err as Error).message, { status });
  }
  return new RegistryError('UNKNOWN', 'internal error', { cause: err });
}

/**
 * The headers an error's answer carries: derived from its code and detail (storage states facts,
 * HTTP is decided here), then those it names itself (auth's challenge, server refusals).
 */
export function errorHeaders(err: RegistryError): Record<string, string> {
  const headers: Record<string, string> = {};
  const detail = typeof err.detail === 'object' && err.detail !== null ? (err.detail as Record<string, unknown>) : {};
  // A chunk that does not continue its upload: the client resumes from the Range it is told.
  if (err.code === 'RANGE_INVALID' && typeof detail.uuid === 'string' && typeof detail.size === 'number') {
    headers.Range = rangeHeader(detail.size);
    headers['Docker-Upload-UUID'] = detail.uuid;
  }
  if (typeof detail.retryAfterSeconds === 'number') headers['Retry-After'] = String(detail.retryAfterSeconds);
  return { ...headers, ...err.headers };
}

/** Set by the web UI on every request it makes (ui/; design of issue 15). */
export const UI_REQUEST_HEADER = 'X-Stowage-UI';
/** Where the UI gets the challenge instead of WWW-Authenticate. */
export const UI_CHALLENGE_HEADER = 'X-Stowage-Authenticate';

/**
 * The web UI reads the auth challenge under another name: a browser that sees WWW-Authenticate:
 * Basic shows its own password dialog over the page. Status and body stay as they are.
 */
function forClient(headers: Record<string, string>, ctx: Context): Record<string, string> {
  const challenge = headers['WWW-Authenticate'];
  if (challenge === undefined || ctx.get(UI_REQUEST_HEADER) !== '1') return headers;
  const renamed: Record<string, string> = { ...headers, [UI_CHALLENGE_HEADER]: challenge };
  delete renamed['WWW-Authenticate'];
  return renamed;
}

export function errorBody(err: RegistryError): string {
  const entry: Record<string, unknown> = { code: err.code, message: err.message };
  if (err.detail !== undefined) entry.detail = err.detail;
  return JSON.stringify({ errors: [entry] });
}

export function errorMiddleware(logger: Logger) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (thrown) {
      const gone = isClientGone(thrown);
      const err = toRegistryError(thrown);
      const where = { reqId: ctx.state.requestId, method: ctx.method, url: ctx.url };
      if (err instanceof Refusal && !gone) {
        ctx.state.refusal = err;
        logger[err.level]({ ...where, status: err.status, code: err.code, reason: err.reason }, err.message);
      } else if (err.status >= 500 && !gone) {
        logger.error({ err: thrown, ...where }, 'request failed');
      } else if (gone) {
        logger.info(where, 'client closed the connection');
      }
      if (ctx.headerSent || !ctx.writable) {
        ctx.res.destroy();
        return;
      }
      ctx.status = gone ? 400 : err.status;
      for (const [name, value] of Object.entries(forClient(errorHeaders(err), ctx))) ctx.set(name, value);
      // A refused request whose body is still arriving (401 before an upload, 413 on a declared
      // huge manifest, a full disk mid-upload): close the connection rather than read the rest,
      // but only after the client has had the chance to read the answer (server/linger.ts).
      if (!ctx.req.complete) {
        ctx.set('Connection', 'close');
        lingerAfterAnswer(ctx.req);
      }
      ctx.set('Content-Type', 'application/json');
      ctx.body = Buffer.from(errorBody(err));
    }
  };
}
