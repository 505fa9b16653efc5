// Upstream authentication: distribution's token flow (401 with a Bearer challenge -> token from
// the realm -> retry), anonymous and with credentials, tokens reused until they expire; Basic;
// and blob redirects that must not carry the upstream's Authorization to another host.
import { afterEach, describe, expect, it } from 'vitest';
import { randomBlob } from '../helpers/content.js';
import { silentLogger } from '../../server/logger.js';
import { UpstreamClient, parseChallenge } from '../../proxy/upstream-client.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { TokenIssuer } from '../helpers/fake-token-issuer.js';
import { listen, type Listening } from '../helpers/http-server.js';
import { pushImage } from '../helpers/images.js';
import { pull } from '../helpers/registry-client.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';

let issuer: TokenIssuer | undefined;
let upstream: TestRegistry | undefined;
let custom: Listening[] = [];
let proxy: TestRegistry | undefined;

afterEach(async () => {
  await proxy?.cleanup();
  await upstream?.cleanup();
  await issuer?.close();
  for (const c of custom) await c.close();
  proxy = upstream = issuer = undefined;
  custom = [];
});

describe('upstream auth', () => {
  it('parses a Bearer challenge whose scope holds commas', () => {
    const challenge = parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"');
    expect(challenge).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' },
    });
  });

  it('fetches an anonymous token, retries, and reuses the token for the same repository', async () => {
    issuer = new TokenIssuer();
    await issuer.start();
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms', requireToken: issuer });
    const layer = randomBlob(100_000, 21);
    const image = await pushImage(upstream.storage, 'library/busybox', 'latest', { layers: [layer] });
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: upstream.url } }, cacheTtl: '1ms' });

    const manifest = await pull(`${proxy.url}/v2/library/busybox/manifests/latest`);
    expect(manifest.status).toBe(200);
    expect(manifest.body.equals(image.manifest.bytes)).toBe(true);
    const blob = await pull(`${proxy.url}/v2/library/busybox/blobs/${layer.digest}`);
    expect(blob.body.equals(layer.bytes)).toBe(true);

    expect(issuer.issued).toEqual([{ scope: 'repository:library/busybox:pull', account: undefined }]);
    // One 401 (the first request), then every request carried the token.
    expect(upstream.requests.filter((r) => !r.authorization)).toHaveLength(1);
    expect(upstream.requests.filter((r) => r.authorization?.startsWith('Bearer '))).toHaveLength(2);
  });

  it('sends configured credentials to the token realm as Basic', async () => {
    issuer = new TokenIssuer({ robot: 's3cret' });
    await issuer.start();
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms', requireToken: issuer });
    const image = await pushImage(upstream.storage, 'private/app', 'v1');
    proxy = await startTestRegistry(filesystemDriverFactory, {
      config: {
        stowage: { proxies: [{ prefix: 'corp', remoteurl: upstream.url, username: 'robot', password: 's3cret' }] },
      },
      cacheTtl: '1ms',
    });

    const res = await pull(`${proxy.url}/v2/corp/private/app/manifests/v1`);
    expect(res.status).toBe(200);
    expect(res.body.equals(image.manifest.bytes)).toBe(true);
    expect(issuer.issued).toEqual([{ scope: 'repository:private/app:pull', account: 'robot' }]);
  });

  it('answers MANIFEST_UNKNOWN when the realm refuses the credentials', async () => {
    issuer = new TokenIssuer({ robot: 's3cret' });
    await issuer.start();
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms', requireToken: issuer });
    await pushImage(upstream.storage, 'private/app', 'v1');
    proxy = await startTestRegistry(filesystemDriverFactory, {
      config: { proxy: { remoteurl: upstream.url, username: 'robot', password: 'wrong' } },
      cacheTtl: '1ms',
    });
    const res = await pull(`${proxy.url}/v2/private/app/manifests/v1`);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body.toString()).errors[0].code).toBe('MANIFEST_UNKNOWN');
    expect(issuer.issued).toEqual([]);
  });

  it('fetches a new token once the old one expired', async () => {
    issuer = new TokenIssuer({}, 1); // one-second tokens; the client drops them early
    await issuer.start();
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms', requireToken: issuer });
    const image = await pushImage(upstream.storage, 'team/app', 'v1');
    const client = new UpstreamClient({ remoteurl: upstream.url, logger: silentLogger() });
    try {
      expect((await client.manifest('GET', 'team/app', 'v1')).digest).toBe(image.manifest.digest);
      expect((await client.manifest('GET', 'team/app', 'v1')).digest).toBe(image.manifest.digest);
      expect(issuer.issued).toHaveLength(2);
    } finally {
      client.close();
    }
  });

  it('answers a Basic challenge with the configured credentials', async () => {
    const seen: Array<string | undefined> = [];
    const server = await listen((req, res) => {
      seen.push(req.headers.authorization);
      if (req.headers.authorization !== `Basic ${Buffer.from('me:pw').toString('base64')}`) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="registry"' }).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', 'Content-Length': '2' }).end('{}');
    });
    custom.push(server);
    const client = new UpstreamClient({ remoteurl: server.url, username: 'me', password: 'pw', logger: silentLogger() });
    try {
      expect((await client.manifest('HEAD', 'a/b', 'v1')).status).toBe(200);
      expect((await client.manifest('HEAD', 'a/b', 'v2')).status).toBe(200);
      // First request anonymous, retried with Basic; the second sends Basic up front.
      expect(seen.map((s) => s?.split(' ')[0])).toEqual([undefined, 'Basic', 'Basic']);
    } finally {
      client.close();
    }
  });

  it('follows a blob redirect to another host without the Authorization header', async () => {
    const layer = randomBlob(5000, 22);
    const storageSeen: Array<string | undefined> = [];
    const storageHost = await listen((req, res) => {
      storageSeen.push(req.headers.authorization);
      res.writeHead(200, { 'Content-Length': String(layer.size) }).end(layer.bytes);
    });
    custom.push(storageHost);
    const registry = await listen((req, res) => {
      if (!req.headers.authorization) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="r"' }).end();
        return;
      }
      res.writeHead(307, { Location: `${storageHost.url}/signed/blob?sig=abc` }).end();
    });
    custom.push(registry);
    proxy = await startTestRegistry(filesystemDriverFactory, {
      config: { proxy: { remoteurl: registry.url, username: 'u', password: 'p' } },
      cacheTtl: '1ms',
    });
    const res = await pull(`${proxy.url}/v2/team/app/blobs/${layer.digest}`);
    expect(res.status).toBe(200);
    expect(res.body.equals(layer.bytes)).toBe(true);
    expect(storageSeen).toEqual([undefined]);
  });
});

describe('token requests', () => {
  it('shares one token request among concurrent cold pulls of one repository', async () => {
    issuer = new TokenIssuer();
    await issuer.start();
    upstream = await startTestRegistry(filesystemDriverFactory, { cacheTtl: '1ms', requireToken: issuer });
    const image = await pushImage(upstream.storage, 'team/app', 'v1', { layers: [randomBlob(1000, 1), randomBlob(1000, 2), randomBlob(1000, 3)] });
    proxy = await startTestRegistry(filesystemDriverFactory, { config: { proxy: { remoteurl: upstream.url } }, cacheTtl: '1ms' });
    const answers = await Promise.all(image.layers.map((l) => pull(`${proxy!.url}/v2/team/app/blobs/${l.digest}`)));
    for (const [i, answer] of answers.entries()) expect(answer.body.equals(image.layers[i].bytes)).toBe(true);
    expect(issuer.issued).toHaveLength(1);
  });
});
