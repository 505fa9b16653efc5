// The one router outside /v2 (server/router.ts): it serves exactly what OPS_ROUTES lists, /token
// is matched exactly and answers every method itself, and whatever no route takes (an unknown
// path, or a known path with a method it does not serve) is the JSON 404, counted as route "other".
import { METHODS } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OPS_ROUTES } from '../../server/routes/ops.js';
import { createRouter } from '../../server/router.js';
import { configFrom } from '../../server/config.js';
import { RegistryMetrics } from '../../server/metrics.js';
import { expectError } from '../helpers/expect-answer.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { startTestRegistry, useTestRegistry, type TestRegistry } from '../helpers/test-registry.js';

describe('the router outside /v2', () => {
  const registry = useTestRegistry(filesystemDriverFactory);

  it('serves exactly the routes OPS_ROUTES lists', () => {
    const reg = registry();
    const config = configFrom({ storage: { filesystem: { rootdirectory: reg.root } } });
    const router = createRouter({ config, storage: reg.storage, metrics: new RegistryMetrics() });
    // Koa's parameters (/api/v1/tags/*name, :reference) as OPS_ROUTES writes them, openapi.yaml's way.
    const template = (path: string) => path.replace(/[*:](\w+)/g, '{$1}');
    // A path may be registered once per method (GET and POST /admin/robots): its methods merged.
    const served = new Map<string, string[]>();
    for (const layer of router.stack) {
      const path = template(String(layer.path));
      served.set(path, [...(served.get(path) ?? []), ...layer.methods]);
    }
    expect([...served.keys()].sort()).toEqual([...new Set(OPS_ROUTES.map((r) => r.path))].sort());
    for (const { method, path } of OPS_ROUTES) expect(served.get(path), `${method} ${path}`).toContain(method);
    // /token takes every method and answers the ones it does not serve; the others take only theirs.
    expect(new Set(served.get('/token'))).toEqual(new Set(METHODS));
    for (const [path, methods] of served) {
      if (path === '/token') continue;
      const listed = OPS_ROUTES.filter((r) => r.path === path).map((r) => r.method as string);
      expect(methods.filter((m) => m !== 'HEAD' || !methods.includes('GET')).sort(), path).toEqual(listed.sort());
    }
  });

  it('answers /token without an issuer with 405 UNSUPPORTED for any method, and only at /token', async () => {
    const reg = registry();
    expectError(await reg.request.get('/token'), 405, 'UNSUPPORTED');
    expectError(await reg.request.delete('/token'), 405, 'UNSUPPORTED');
    expectError(await reg.request.get('/token/'), 404, 'NAME_UNKNOWN');
    expectError(await reg.request.get('/TOKEN'), 404, 'NAME_UNKNOWN');
    const metrics = (await reg.request.get('/metrics')).text;
    expect(metrics).toMatch(/stowage_http_requests_total\{route="token",method="GET",status="405"\} 1/);
    expect(metrics).toMatch(/stowage_http_requests_total\{route="other",method="GET",status="404"\} 2/);
  });

  it('answers a known path asked with a method it does not serve with the JSON 404, as route "other"', async () => {
    const reg = registry();
    const res = await reg.request.post('/healthz');
    expectError(res, 404, 'NAME_UNKNOWN');
    expect(res.body.errors[0].detail).toEqual({ path: '/healthz' });
    expectError(await reg.request.put('/admin/retag'), 404, 'NAME_UNKNOWN');
    const metrics = (await reg.request.get('/metrics')).text;
    expect(metrics).toMatch(/stowage_http_requests_total\{route="other",method="POST",status="404"\} 1/);
    expect(metrics).toMatch(/stowage_http_requests_total\{route="other",method="PUT",status="404"\} 1/);
    expect(metrics).not.toMatch(/route="\/healthz",method="POST"/);
  });
});

describe('the token endpoint with the built-in issuer', () => {
  let reg: TestRegistry;
  beforeEach(async () => {
    reg = await startTestRegistry(filesystemDriverFactory, {
      users: {},
      config: (p) => ({
        auth: { token: { realm: 'https://registry.example.test/token', service: 'stowage-test', issuer: 'stowage-test-issuer' } },
        stowage: { auth: { issuer: { htpasswd: p.htpasswd, expiry: '2m' } } },
      }),
      logs: true,
    });
  });
  afterEach(() => reg.cleanup());

  it('answers a method other than GET and POST with 405 and Allow: GET, POST', async () => {
    const put = await reg.request.put('/token');
    expectError(put, 405, 'UNSUPPORTED');
    expect(put.headers.allow).toBe('GET, POST');
    const head = await reg.request.head('/token');
    expectError(head, 405, 'UNSUPPORTED', { head: true });
    expect(head.headers.allow).toBe('GET, POST');
    expect((await reg.request.get('/token?service=stowage-test')).status).toBe(200);
  });
});
