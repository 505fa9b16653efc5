// Load shedding: at most `max` requests that carry blob bytes (POST/PATCH/PUT under
// /blobs/uploads) are served at once; past that a client gets 503 with Retry-After at once,
// rather than every transfer slowing down and the process holding a buffer for each.
import type { Context, Next } from 'koa';
import { RegistryError } from '../storage/errors.js';

export function isUploadRequest(ctx: Context): boolean {
  return ctx.method !== 'GET' && ctx.method !== 'HEAD' && ctx.method !== 'DELETE' && ctx.path.includes('/blobs/uploads');
}

export function uploadLimiter(max: number) {
  let inFlight = 0;
  return async function limitUploads(ctx: Context, next: Next): Promise<void> {
    if (!isUploadRequest(ctx)) return next();
    if (inFlight >= max) {
      throw new RegistryError('UNAVAILABLE', 'too many uploads in progress; retry shortly', {
        detail: { limit: max },
        headers: { 'Retry-After': '1' },
      });
    }
    inFlight++;
    try {
      await next();
    } finally {
      inFlight--;
    }
  };
}
