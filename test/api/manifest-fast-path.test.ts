// The manifest fast path (server/fast-path.ts) answers cached manifests before Koa. Its answer
// must be the Koa route's answer: same status, headers and bytes, and counted the same way.
import { describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { useTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { asBytes } from '../helpers/registry-client.js';
import { pushImage } from '../helpers/images.js';

const VOLATILE = new Set(['date', 'x-request-id', 'connection', 'keep-alive']);

function stableHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !VOLATILE.has(k)));
}

async function twice(reg: TestRegistry, method: 'get' | 'head', path: string) {
  reg.storage.cache.clear();
  const viaKoa = await asBytes(reg.request[method](path));
  const viaFastPath = await asBytes(reg.request[method](path));
  return { viaKoa, viaFastPath };
}

describe.each(DRIVERS)('manifest fast path on $name', (factory) => {
  const registry = useTestRegistry(factory, { config: { http: { headers: { 'X-Content-Type-Options': ['nosniff'] } } } });

  for (const method of ['get', 'head'] as const) {
    for (const by of ['tag', 'digest'] as const) {
      it(`answers ${method.toUpperCase()} by ${by} exactly as the Koa route does`, async () => {
        const reg = registry();
        const image = await pushImage(reg, 'team/app', 'v1', { seed: 51 });
        const reference = by === 'tag' ? 'v1' : image.manifest.digest;
        const { viaKoa, viaFastPath } = await twice(reg, method, `/v2/team/app/manifests/${reference}`);
        expect(viaKoa.status).toBe(200);
        expect(viaFastPath.status).toBe(200);
        expect(stableHeaders(viaFastPath.headers)).toEqual(stableHeaders(viaKoa.headers));
        expect(viaFastPath.headers['x-content-type-options']).toBe('nosniff');
        if (method === 'get') expect(Buffer.compare(viaFastPath.body as Buffer, image.manifest.bytes)).toBe(0);
        expect((await reg.request.get('/metrics')).text).toMatch(/^stowage_manifest_fast_path_total 1$/m);
      });
    }
  }

  it('keeps a client X-Request-Id and counts the request in the metrics', async () => {
    const reg = registry();
    await pushImage(reg, 'team/app', 'v1', { seed: 52 });
    await reg.request.get('/v2/team/app/manifests/v1');
    const res = await reg.request.get('/v2/team/app/manifests/v1').set('X-Request-Id', 'trace-123');
    expect(res.headers['x-request-id']).toBe('trace-123');
    const metrics = await reg.request.get('/metrics');
    expect(metrics.text).toMatch(/stowage_http_requests_total\{route="manifest",method="GET",status="200"\} 2/);
  });

  it('never serves a deleted manifest: deletes go through storage and drop the cached entry', async () => {
    const reg = registry();
    const image = await pushImage(reg, 'team/app', 'v1', { seed: 53 });
    expect((await reg.request.get('/v2/team/app/manifests/v1')).status).toBe(200);
    expect((await reg.request.delete(`/v2/team/app/manifests/${image.manifest.digest}`)).status).toBe(202);
    expect((await reg.request.get('/v2/team/app/manifests/v1')).status).toBe(404);
    expect((await reg.request.get(`/v2/team/app/manifests/${image.manifest.digest}`)).status).toBe(404);
  });

  it('leaves anything with a query string or an odd path to the routes', async () => {
    const reg = registry();
    await pushImage(reg, 'team/app', 'v1', { seed: 54 });
    await reg.request.get('/v2/team/app/manifests/v1');
    expect((await reg.request.get('/v2/team/app/manifests/v1?ns=docker.io')).status).toBe(200);
    const hostile = await reg.request.get('/v2/team/../app/manifests/v1');
    expect(hostile.status).toBe(400);
    expect(hostile.body.errors[0].code).toBe('NAME_INVALID');
  });
});
