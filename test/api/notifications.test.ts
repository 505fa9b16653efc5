// Webhook notifications: push, pull and delete events reach a real HTTP receiver in
// Distribution's envelope; a receiver that is down gets them later, and a receiver that hangs
// never holds up a request.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DRIVERS } from '../helpers/drivers.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { pushImage } from '../helpers/images.js';
import { eventually, putManifest } from '../helpers/registry-client.js';

interface Receiver {
  url: string;
  events: Array<{ action: string; target: Record<string, unknown> }>;
  contentTypes: string[];
  close(): Promise<void>;
}

async function startReceiver(behaviour: 'ok' | 'hang' | 'fail-first' = 'ok', port = 0): Promise<Receiver> {
  const events: Receiver['events'] = [];
  const contentTypes: string[] = [];
  let failuresLeft = behaviour === 'fail-first' ? 2 : 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (behaviour === 'hang') return;
      if (failuresLeft-- > 0) {
        res.writeHead(503).end();
        return;
      }
      contentTypes.push(String(req.headers['content-type']));
      events.push(...(JSON.parse(Buffer.concat(chunks).toString()) as { events: Receiver['events'] }).events);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`,
    events,
    contentTypes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe.each(DRIVERS)('notifications on $name', (factory) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  async function registryNotifying(url: string, extra: Record<string, unknown> = {}): Promise<TestRegistry> {
    const reg = await startTestRegistry(factory, {
      config: { notifications: { endpoints: [{ name: 'listener', url, timeout: '500ms', backoff: '50ms', ...extra }] } },
    });
    cleanups.push(() => reg.cleanup());
    return reg;
  }

  it('sends push, pull and delete events in the Distribution envelope', async () => {
    const receiver = await startReceiver();
    cleanups.push(() => receiver.close());
    const reg = await registryNotifying(receiver.url);
    const image = await pushImage(reg, 'team/app', 'v1');
    expect((await reg.request.get('/v2/team/app/manifests/v1')).status).toBe(200);
    expect((await reg.request.delete('/v2/team/app/manifests/v1')).status).toBe(202);

    expect(await eventually(async () => receiver.events.some((e) => e.action === 'delete'))).toBe(true);
    expect(receiver.contentTypes[0]).toBe('application/vnd.docker.distribution.events.v1+json');
    const manifestPush = receiver.events.find((e) => e.action === 'push' && e.target.tag === 'v1');
    expect(manifestPush?.target).toMatchObject({ repository: 'team/app', digest: image.manifest.digest, mediaType: image.manifest.mediaType });
    expect(receiver.events.filter((e) => e.action === 'push' && e.target.digest === image.layers[0].digest)).toHaveLength(1);
    expect(receiver.events.find((e) => e.action === 'pull')?.target).toMatchObject({
      repository: 'team/app',
      digest: image.manifest.digest,
      tag: 'v1',
    });
    expect(receiver.events.find((e) => e.action === 'delete')?.target).toMatchObject({ repository: 'team/app', tag: 'v1' });
  });

  it('sends one push event per tag of a push with tag parameters', async () => {
    const receiver = await startReceiver();
    cleanups.push(() => receiver.close());
    const reg = await registryNotifying(receiver.url);
    const image = await pushImage(reg, 'team/app', 'v1');
    const res = await putManifest(reg, 'team/app', `${image.manifest.digest}?tag=a&tag=b`, image.manifest.bytes, image.manifest.mediaType);
    expect(res.status).toBe(201);
    const tagged = async () =>
      receiver.events.filter((e) => e.action === 'push' && e.target.digest === image.manifest.digest).map((e) => e.target.tag);
    expect(await eventually(async () => (await tagged()).length === 3)).toBe(true);
    expect((await tagged()).sort()).toEqual(['a', 'b', 'v1']);
  });

  it('retries with back-off until a failing receiver accepts', async () => {
    const receiver = await startReceiver('fail-first');
    cleanups.push(() => receiver.close());
    const reg = await registryNotifying(receiver.url);
    await pushImage(reg, 'team/app', 'v1');
    expect(await eventually(async () => receiver.events.some((e) => e.action === 'push' && e.target.tag === 'v1'))).toBe(true);
  });

  it('does not hold up requests while the receiver hangs', async () => {
    const receiver = await startReceiver('hang');
    cleanups.push(() => receiver.close());
    const reg = await registryNotifying(receiver.url, { timeout: '30s' });
    const started = Date.now();
    await pushImage(reg, 'team/app', 'v1');
    for (let i = 0; i < 5; i++) expect((await reg.request.get('/v2/team/app/manifests/v1')).status).toBe(200);
    // Every request was answered although no delivery has finished: the queue is still full.
    expect(receiver.events).toEqual([]);
    expect(Date.now() - started).toBeLessThan(25_000);
  });

  it('skips ignored actions', async () => {
    const receiver = await startReceiver();
    cleanups.push(() => receiver.close());
    const reg = await registryNotifying(receiver.url, { ignore: { actions: ['pull'] } });
    await pushImage(reg, 'team/app', 'v1');
    await reg.request.get('/v2/team/app/manifests/v1');
    await reg.request.delete('/v2/team/app/manifests/v1');
    expect(await eventually(async () => receiver.events.some((e) => e.action === 'delete'))).toBe(true);
    expect(receiver.events.some((e) => e.action === 'pull')).toBe(false);
  });
});
