// What middleware and routes leave in ctx.state for each other, declared on koa's DefaultState
// so that every Context (handler signatures unchanged) sees these names typed. Koa's DefaultState
// extends `any`, so a name not declared here still compiles: declare it here before using it.
//
// Who writes and who reads:
//   requestId   the access middleware (server/app.ts); errors.ts logs it, the /v2 dispatcher
//               (server/v2/router.ts) puts it in webhook events
//   route       the /v2 dispatcher, the upload limiter (load-shedding.ts) and the token endpoint
//               (routes/token.ts); the access middleware labels metrics with it. The routes of
//               server/router.ts leave it unset: their label is the router's matched path.
//   refusal     errorMiddleware (errors.ts) when it answers a Refusal; the access middleware counts it
//   uploadSlot  the upload limiter; claimUploadSlot takes it once the dispatcher knows the caller
//   client      clientAddress (client-address.ts), first; everything needing the address reads it
//   identity    authorizeRequest (authorize-request.ts) once credentials are checked; the audit reads it
//   audit       the audit middleware (request-audit.ts); routes and the /v2 dispatcher note into it
import type { Refusal } from './errors.js';
import type { UploadSlot } from './load-shedding.js';
import type { Resource } from './v2/route-types.js';
import type { Identity } from '../auth/access-rules.js';
import type { RequestAudit } from './request-audit.js';

declare module 'koa' {
  interface DefaultState {
    /** The request's id, also in its X-Request-Id header and its log lines. */
    requestId?: string;
    /** The metrics label of a named route: a /v2 resource, or 'token'. */
    route?: Resource | 'token';
    /** Set when the request was refused (load shedding, auth ...) rather than failed. */
    refusal?: Refusal;
    /** An upload request's claim on its client's share of the upload slots. */
    uploadSlot?: UploadSlot;
    /** The client's address, http.trustedproxies applied (server/client-address.ts). */
    client?: string;
    /** Who the caller is, once their credentials were checked (also when then refused). */
    identity?: Identity;
    /** What the audit log records of this request (absent when the audit log is off). */
    audit?: RequestAudit;
  }
}
