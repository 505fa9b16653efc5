// GET /api/v1/quotas: each storage limit (`stowage.quotas`, storage/quotas.ts) with its
// repositories' globs, bytes used and allowed. A caller sees a quota when it may pull one of the
// repositories it covers now; admins (stowage.auth.admins) and everyone without auth see all.
// Registered with the JSON API's routes (server/routes/api.ts).
import type Router from '@koa/router';
import type { Context } from 'koa';
import { CATALOG_ACCESS } from '../../auth/scope.js';
import type { QuotaUsage } from '../../storage/quotas.js';
import { sendJson } from '../respond.js';
import { API_PREFIX, authorizer, type ApiDependencies } from './api-request.js';

export const QUOTA_ROUTES = [{ method: 'GET', path: `${API_PREFIX}/quotas` }] as const;

/** A quota as the API answers it (and `stowage du` prints it). */
export function quotaJson(quota: QuotaUsage) {
  return {
    number: quota.number,
    repositories: quota.repositories,
    usedBytes: quota.usedBytes,
    maxBytes: quota.maxBytes,
    percent: quota.maxBytes === 0 ? (quota.usedBytes === 0 ? 0 : 100) : Math.round((quota.usedBytes / quota.maxBytes) * 1000) / 10,
    repositoryCount: quota.repositoryCount,
  };
}

export function registerQuotaRoutes(router: Router, deps: ApiDependencies): void {
  const authorize = authorizer(deps.access);
  const admins = new Set(deps.config.stowage.auth.admins);
  router.get(`${API_PREFIX}/quotas`, async (ctx: Context) => {
    const caller = await authorize(ctx, [CATALOG_ACCESS]);
    const quotas = deps.storage.quotas.enabled ? await deps.storage.quotas.usage() : [];
    const user = caller?.identity.user;
    const admin = user !== undefined && !caller?.identity.robot && admins.has(user);
    const visible = !caller || admin ? quotas : quotas.filter((q) => q.repositoryNames.some((name) => caller.canPull(name)));
    sendJson(ctx, 200, { quotas: visible.map(quotaJson) }, { 'Cache-Control': 'no-store' });
  });
}
