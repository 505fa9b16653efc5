// GET/HEAD /v2/ (end-1), and what the registry answers outside its routes.
import { describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { expectAnswer, expectError } from '../helpers/expect-answer.js';

describe.each(DRIVERS)('the API base ($name)', (factory) => {
  const registry = useTestRegistry(factory, { shared: true, config: { http: { headers: { 'X-Content-Type-Options': ['nosniff'] } } } });

  it('answers GET /v2/ with 200 and an empty JSON object', async () => {
    const res = await registry().request.get('/v2/');
    expectAnswer(res, 200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['content-length']).toBe('2');
    expect(res.body).toEqual({});
  });

  it('answers HEAD /v2/ with 200, the same headers and no body', async () => {
    const res = await registry().request.head('/v2/');
    expectAnswer(res, 200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['content-length']).toBe('2');
    expect(res.text ?? '').toBe('');
  });

  it('answers /v2 without the trailing slash the same way', async () => {
    const res = await registry().request.get('/v2');
    expectAnswer(res, 200);
    expect(res.body).toEqual({});
  });

  it('adds the headers configured under http.headers to every answer', async () => {
    const ok = await registry().request.get('/v2/');
    const failed = await registry().request.get('/v2/library/alpine/manifests/latest');
    expect(ok.headers['x-content-type-options']).toBe('nosniff');
    expect(failed.headers['x-content-type-options']).toBe('nosniff');
  });

  it('answers a path outside /v2 with a JSON 404', async () => {
    const res = await registry().request.get('/v1/_ping');
    expectError(res, 404, 'NAME_UNKNOWN');
  });

  it('answers an unknown /v2 resource with a JSON 404', async () => {
    const res = await registry().request.get('/v2/library/alpine/nothing-here');
    expectError(res, 404, 'NAME_UNKNOWN');
  });

  it('answers a method a route does not support with 405 UNSUPPORTED and Allow', async () => {
    const res = await registry().request.post('/v2/');
    expectError(res, 405, 'UNSUPPORTED');
    expect(res.headers.allow).toBe('GET, HEAD');
  });
});
