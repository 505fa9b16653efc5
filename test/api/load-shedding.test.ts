// Load shedding: past stowage.http.maxuploads upload requests at once, another answers 503
// UNAVAILABLE with Retry-After straight away; once the others finish, uploads go through again.
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { randomBlob } from '../helpers/content.js';

describe('upload load shedding', () => {
  const registry = useTestRegistry(filesystemDriverFactory, { config: { stowage: { http: { maxuploads: 2 } } } });

  it('answers 503 with Retry-After past the limit and recovers after', async () => {
    const reg = registry();
    const sessions: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await reg.request.post('/v2/team/app/blobs/uploads/');
      expect(res.status).toBe(202);
      sessions.push(res.headers.location as string);
    }
    const chunk = randomBlob(1024, 81);
    // Two PATCHes that have sent half their body and wait.
    const held = sessions.slice(0, 2).map((location) => {
      const req = http.request({ host: '127.0.0.1', port: reg.port, method: 'PATCH', path: location, headers: { 'Content-Length': chunk.size } });
      const answered = new Promise<number>((resolve, reject) => {
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
      });
      req.write(chunk.bytes.subarray(0, 512));
      return { req, answered };
    });
    await new Promise((r) => setTimeout(r, 200));

    const refused = await reg.request.patch(sessions[2]).set('Content-Type', 'application/octet-stream').send(chunk.bytes);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.body.errors[0].code).toBe('UNAVAILABLE');

    for (const { req } of held) req.end(chunk.bytes.subarray(512));
    expect(await Promise.all(held.map((h) => h.answered))).toEqual([202, 202]);
    const accepted = await reg.request.patch(sessions[2]).set('Content-Type', 'application/octet-stream').send(chunk.bytes);
    expect(accepted.status).toBe(202);
    expect(accepted.headers.range).toBe(`0-${chunk.size - 1}`);
  });
});
