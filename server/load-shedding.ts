// Load shedding: at most `total` requests that carry blob bytes (POST/PATCH/PUT under
// /blobs/uploads) are served at once, and at most `perClient` of them for one client; past
// either a request gets 503 UNAVAILABLE with Retry-After at once, rather than every transfer
// slowing down and the process holding a buffer for each. The per-client share keeps one client
// (a slow-loris holding every slot with one byte every few seconds) from blocking every push.
//
// A client is its user when it logged in, else its address. The total is checked here, before
// routing; the client's share right after the router has checked access (claimUploadSlot), when
// the user is known. A logged-in user is not also bound by address: behind a reverse proxy every
// client has the proxy's address, and users would then share one client's share.
//
// 503 rather than 429 TOOMANYREQUESTS: Docker's push retries UNAVAILABLE with a backoff but gives
// up at once on TOOMANYREQUESTS (moby distribution/errors.go, retryOnError), and a slot is free
// again as soon as one of the client's own uploads ends.
import type { Context, Next } from 'koa';
import { Refusal } from './errors.js';
import { clientOf } from './client-address.js';

export interface UploadLimits {
  /** Upload requests served at once (stowage.http.maxuploads). */
  total: number;
  /** Of those, for one client (stowage.http.maxuploadsperclient). */
  perClient: number;
}

export function isUploadRequest(ctx: Context): boolean {
  return ctx.method !== 'GET' && ctx.method !== 'HEAD' && ctx.method !== 'DELETE' && ctx.path.includes('/blobs/uploads');
}

/** What the upload limiter leaves in ctx.state for the router (server/request-state.ts). */
export interface UploadSlot {
  claim(client: string): void;
}

function refused(reason: 'uploads' | 'client', message: string, limit: number): Refusal {
  return new Refusal(reason, 'UNAVAILABLE', message, { detail: { limit }, headers: { 'Retry-After': '1' } });
}

export function uploadLimiter(limits: UploadLimits) {
  let inFlight = 0;
  const perClient = new Map<string, number>();
  return async function limitUploads(ctx: Context, next: Next): Promise<void> {
    if (!isUploadRequest(ctx)) return next();
    if (inFlight >= limits.total) {
      // Refused before routing: name the route for the metrics as the router would.
      ctx.state.route = /\/blobs\/uploads\/?$/.test(ctx.path) ? 'uploads' : 'upload';
      throw refused('uploads', 'too many uploads in progress; retry shortly', limits.total);
    }
    inFlight++;
    let client: string | undefined;
    const slot: UploadSlot = {
      claim(who) {
        if (client !== undefined) return;
        const held = perClient.get(who) ?? 0;
        if (held >= limits.perClient) throw refused('client', 'too many uploads in progress from this client; retry shortly', limits.perClient);
        perClient.set(who, held + 1);
        client = who;
      },
    };
    ctx.state.uploadSlot = slot;
    try {
      await next();
    } finally {
      inFlight--;
      if (client !== undefined) {
        const held = (perClient.get(client) ?? 1) - 1;
        if (held > 0) perClient.set(client, held);
        else perClient.delete(client);
      }
    }
  };
}

/**
 * Takes the request's share of its client's uploads, once access is decided (server/routes.ts):
 * the user when logged in, else the connection's address. A no-op for other requests.
 */
export function claimUploadSlot(ctx: Context, user: string | undefined): void {
  ctx.state.uploadSlot?.claim(user !== undefined ? `user ${user}` : `address ${clientOf(ctx)}`);
}
