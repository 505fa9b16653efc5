// Reading a small request body (a manifest) with a hard limit, so a client cannot make us buffer
// more than the limit however it frames the body.
import type { IncomingMessage } from 'node:http';
import { RegistryError } from '../errors/registry-error.js';

export async function readLimitedBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    req.resume();
    throw new RegistryError('SIZE_INVALID', 'request body too large', { status: 413, detail: { limit } });
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) {
      req.resume();
      throw new RegistryError('SIZE_INVALID', 'request body too large', { status: 413, detail: { limit } });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

/** Whether the request carries a body at all (a length above zero, or chunked framing). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return req.headers['transfer-encoding'] !== undefined;
}

/**
 * Refuses a request whose body is framed by a transfer coding other than chunked (RFC 9112 §6.3:
 * its length is unknowable; answer 400 and close). Node refuses it too, but only when it reaches
 * the body, after a handler may have begun: an upload session was started for such a request.
 */
export async function refuseUnknownTransferCoding(ctx: { req: IncomingMessage }, next: () => Promise<void>): Promise<void> {
  const codings = ctx.req.headers['transfer-encoding'];
  if (codings !== undefined && codings.split(',').at(-1)!.trim().toLowerCase() !== 'chunked') {
    throw new RegistryError('UNSUPPORTED', 'request body framed by a transfer coding other than chunked', { status: 400 });
  }
  await next();
}
