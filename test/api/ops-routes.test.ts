// The operator routes outside /v2: GET / (the web UI for people, JSON on request, and its icon),
// liveness, readiness and Prometheus metrics, and a JSON 404 for anything else.
import { describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { asBytes } from '../helpers/registry-client.js';
import { pushImage } from '../helpers/images.js';

describe.each(DRIVERS)('operator routes on $name', (factory) => {
  const registry = useTestRegistry(factory);

  it('answers liveness with 200 and readiness with the storage kind', async () => {
    const reg = registry();
    const live = await reg.request.get('/healthz');
    expect(live.status).toBe(200);
    expect(live.body).toEqual({ status: 'ok' });
    const ready = await reg.request.get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ready', storage: factory.name === 'filesystem' ? 'filesystem' : expect.any(String) });
  });

  it('sends people to the web UI and escapes nothing into it (the UI renders what the API answers)', async () => {
    const reg = registry();
    await pushImage(reg, 'team/app', 'v1');
    const res = await reg.request.get('/').set('Accept', 'text/html').set('Host', '<script>x</script>').redirects(0);
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/ui/');
    expect(res.text).toBe('');
    expect(res.headers['docker-distribution-api-version']).toBe('registry/2.0');
    const ui = await reg.request.get('/ui/').set('Host', '<script>x</script>');
    expect(ui.status).toBe(200);
    expect(ui.text).not.toContain('<script>x</script>');
  });

  it('answers JSON with name, version, storage and upstreams when asked for JSON', async () => {
    const reg = registry();
    await pushImage(reg, 'team/app', 'v1');
    const res = await reg.request.get('/').set('Accept', 'application/json');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'stowage', version: expect.stringMatching(/^\d+\.\d+\.\d+/), upstreams: [], repositoryCount: 1 });
    expect(res.body.repositories).toEqual([{ name: 'team/app', tags: 1 }]);
  });

  it('counts requests by route and status in Prometheus metrics', async () => {
    const reg = registry();
    await reg.request.get('/v2/');
    await reg.request.get('/v2/nothing/here/manifests/latest');
    const res = await reg.request.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toMatch(/stowage_http_requests_total\{route="base",method="GET",status="200"\} 1/);
    expect(res.text).toMatch(/stowage_http_requests_total\{route="manifest",method="GET",status="404"\} 1/);
    expect(res.text).toContain('stowage_http_request_duration_seconds_bucket');
  });

  it('serves the icon browsers ask for on every visit, counted under its own route', async () => {
    const reg = registry();
    const res = await asBytes(reg.request.get('/favicon.ico'));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('image/x-icon');
    expect(res.headers['cache-control']).toBe('public, max-age=86400');
    const icon = res.body as Buffer;
    // An ICO directory with one 16x16 32-bit image whose bytes are all there.
    expect([icon.readUInt16LE(0), icon.readUInt16LE(2), icon.readUInt16LE(4)]).toEqual([0, 1, 1]);
    expect([icon[6], icon[7], icon.readUInt16LE(12)]).toEqual([16, 16, 32]);
    expect(icon.readUInt32LE(18) + icon.readUInt32LE(14)).toBe(icon.length);
    const head = await reg.request.head('/favicon.ico');
    expect(head.status).toBe(200);
    const metrics = (await reg.request.get('/metrics')).text;
    expect(metrics).toMatch(/stowage_http_requests_total\{route="\/favicon.ico",method="GET",status="200"\} 1/);
    expect(metrics).not.toMatch(/route="other"/);
  });

  it('answers an unknown path with a JSON 404', async () => {
    const reg = registry();
    const res = await reg.request.get('/no/such/page');
    expect(res.status).toBe(404);
    expect(res.body.errors[0].code).toBe('NAME_UNKNOWN');
  });
});
