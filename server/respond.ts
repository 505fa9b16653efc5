// Exact answers: status, Content-Type, Content-Length and the registry headers are set here by
// hand, never guessed by Koa's body setter (which turns an empty body into a 204 text answer).
import type { Context } from 'koa';
import type { Readable, Writable } from 'node:stream';

export type Headers = Record<string, string | number | undefined>;

// Headers go straight to Node's response (Koa's ctx.set adds a delegate and checks per call on
// the hottest path we have), and the answer is ended here with Koa's own respond() turned off.
function writeHead(ctx: Context, status: number, headers: Headers): void {
  const res = ctx.res;
  res.statusCode = status;
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined) res.setHeader(name, value);
  }
}

/** The Range header value for an upload of size bytes (distribution answers "0-0" when empty). */
export function rangeHeader(size: number): string {
  return `0-${Math.max(0, size - 1)}`;
}

/** An answer with no body (201, 202, 204 ...), Content-Length 0. */
export function sendEmpty(ctx: Context, status: number, headers: Headers = {}): void {
  writeHead(ctx, status, headers);
  if (status !== 204) ctx.res.setHeader('Content-Length', 0);
  ctx.respond = false;
  ctx.res.end();
}

/** Bytes with their media type; HEAD gets the same headers and no body. */
export function sendBytes(ctx: Context, status: number, contentType: string, bytes: Buffer, headers: Headers = {}): void {
  writeHead(ctx, status, headers);
  const res = ctx.res;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', bytes.length);
  ctx.respond = false;
  if (ctx.method === 'HEAD') res.end();
  else res.end(bytes);
}

export function sendJson(ctx: Context, status: number, value: unknown, headers: Headers = {}, contentType = 'application/json'): void {
  sendBytes(ctx, status, contentType, Buffer.from(JSON.stringify(value)), headers);
}

/** A stream of known length. The stream is destroyed by Koa if the client goes away. */
export function sendStream(ctx: Context, status: number, contentType: string, length: number, stream: Readable, headers: Headers = {}): void {
  ctx.status = status;
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined) ctx.set(name, String(value));
  }
  ctx.set('Content-Type', contentType);
  ctx.set('Content-Length', String(length));
  ctx.body = stream;
}

/**
 * Copies a body of known length straight into the response (a blob from storage). If the copy
 * fails before the first byte the error is answered as usual; after it, the connection is cut so
 * the client sees a failed transfer, never a short success.
 */
export async function sendCopy(
  ctx: Context,
  status: number,
  contentType: string,
  length: number,
  copy: (destination: Writable) => Promise<number>,
  headers: Headers = {},
): Promise<void> {
  writeHead(ctx, status, headers);
  ctx.res.setHeader('Content-Type', contentType);
  ctx.res.setHeader('Content-Length', length);
  ctx.respond = false;
  try {
    await copy(ctx.res);
  } catch (err) {
    if (!ctx.res.headersSent) {
      ctx.respond = true;
      throw err;
    }
    ctx.res.destroy(err as Error);
    throw err;
  }
  ctx.res.end();
}
