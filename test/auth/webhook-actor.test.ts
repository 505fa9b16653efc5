// Webhook events name who acted (actor.name): the htpasswd user, or the subject of the token;
// nobody for anonymous requests.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/registry-client.js';
import { basic } from '../helpers/credentials.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { tryPushImage } from '../helpers/images.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';

interface Event {
  action: string;
  target: { repository: string; tag?: string };
  actor: { name?: string };
}

const USERS = { admin: 'admin-pw-0c9e' };
const TOKEN = { realm: 'https://registry.example.test/token', service: 'stowage-test', issuer: 'stowage-test-issuer' };
const ACCESS = [
  { repositories: ['public/**'], anonymous: true, actions: ['pull'] },
  { repositories: ['**'], users: ['admin'], actions: ['pull', 'push', 'delete'] },
];

describe.each(['htpasswd', 'token'] as const)('webhook events with %s auth', (mode) => {
  let reg: TestRegistry;
  let receiver: http.Server;
  const events: Event[] = [];
  beforeEach(async () => {
    events.length = 0;
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        events.push(...(JSON.parse(Buffer.concat(chunks).toString()) as { events: Event[] }).events);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', () => resolve()));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`;
    reg = await startTestRegistry(filesystemDriverFactory, {
      users: USERS,
      config: (p) => ({
        auth: mode === 'htpasswd' ? { htpasswd: { realm: 'stowage-test', path: p.htpasswd } } : { token: TOKEN },
        notifications: { endpoints: [{ name: 'listener', url, timeout: '2s', backoff: '50ms' }] },
        stowage: { auth: { access: ACCESS, ...(mode === 'token' ? { issuer: { htpasswd: p.htpasswd } } : {}) } },
      }),
      logs: true,
    });
  });
  afterEach(async () => {
    await reg.cleanup();
    receiver.closeAllConnections();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  async function authFor(scope: string, credentials?: string): Promise<string | undefined> {
    if (mode === 'htpasswd') return credentials;
    const req = reg.request.get(`/token?service=${TOKEN.service}&scope=${encodeURIComponent(scope)}`);
    const res = await (credentials ? req.set('Authorization', credentials) : req);
    return `Bearer ${(JSON.parse(res.text) as { token: string }).token}`;
  }

  it('names the user who pushed, and nobody for an anonymous pull', async () => {
    const admin = await authFor('repository:public/app:pull,push', basic('admin', USERS.admin));
    const { manifest } = await tryPushImage(reg, 'public/app', 'v1', { authorization: admin });
    const anonymous = await authFor('repository:public/app:pull');
    const pull = reg.request.get('/v2/public/app/manifests/v1').set('Accept', manifest.mediaType);
    expect((await (anonymous ? pull.set('Authorization', anonymous) : pull)).status).toBe(200);
    expect(await eventually(async () => events.some((e) => e.action === 'pull'))).toBe(true);
    const push = events.find((e) => e.action === 'push' && e.target.tag === 'v1');
    expect(push?.actor).toEqual({ name: 'admin' });
    expect(events.find((e) => e.action === 'pull')?.actor.name).toBeUndefined();
  });
});
