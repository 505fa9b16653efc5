// The one place where a thrown error becomes an answer: the spec's JSON error envelope with the
// status from storage/errors.ts, and the log level chosen here (5xx as errors with the stack,
// client mistakes at info, a client hanging up mid-transfer at info, never as a failure).
import type { Context, Next } from 'koa';
import { RegistryError } from '../storage/errors.js';
import type { Logger } from './logger.js';

const CLIENT_GONE = new Set(['ECONNRESET', 'ERR_STREAM_PREMATURE_CLOSE', 'ECONNABORTED', 'EPIPE', 'ABORT_ERR']);

function isClientGone(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  return !!e && ((e.code !== undefined && CLIENT_GONE.has(e.code)) || e.message === 'aborted');
}

/** Turns anything thrown into a RegistryError: Koa's HTTP errors keep their status. */
export function toRegistryError(err: unknown): RegistryError {
  if (err instanceof RegistryError) return err;
  const status = (err as { status?: number; expose?: boolean }).status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new RegistryError(status === 413 ? 'SIZE_INVALID' : 'UNSUPPORTED', (err as Error).message, { status });
  }
  return new RegistryError('UNKNOWN', 'internal error', { cause: err });
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
      if (err.status >= 500 && !gone) {
        logger.error({ err: thrown, reqId: ctx.state.requestId, method: ctx.method, url: ctx.url }, 'request failed');
      } else if (gone) {
        logger.info({ reqId: ctx.state.requestId, method: ctx.method, url: ctx.url }, 'client closed the connection');
      }
      if (ctx.headerSent || !ctx.writable) {
        ctx.res.destroy();
        return;
      }
      ctx.status = gone ? 400 : err.status;
      for (const [name, value] of Object.entries(err.headers)) ctx.set(name, value);
      // A refused request whose body is still arriving (401 before an upload, 413 on a declared
      // huge manifest): close the connection instead of reading and discarding the rest.
      if (!ctx.req.complete) ctx.set('Connection', 'close');
      ctx.set('Content-Type', 'application/json');
      ctx.body = Buffer.from(errorBody(err));
    }
  };
}
