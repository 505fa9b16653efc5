// GET/HEAD /v2/ (end-1): the API version check clients make first.
import type { Context } from 'koa';
import { sendJson } from '../../respond.js';

export function get(ctx: Context): void {
  sendJson(ctx, 200, {});
}
