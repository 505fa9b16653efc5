// Test parts for the pull-through proxy: an upstream that is another stowage app on 127.0.0.1
// behind a request counter (optionally demanding Bearer tokens from a small token issuer), and a
// proxying stowage in front of it. Everything listens on port 0 and is closed by the test.
import { RegistryMetrics } from '../../server/metrics.js';
import http from 'node:http';
import { createHmac, randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { createApp } from '../../server/app.js';
import { configFrom } from '../../server/config.js';
import type { PullThroughProxy } from '../../proxy/pull-through.js';
import { proxyFromConfig } from '../../server/proxy-from-config.js';
import { silentLogger } from '../../server/logger.js';
import { FilesystemDriver } from '../../storage/drivers/fs/fs-driver.js';
import { RegistryStorage } from '../../storage/registry.js';
import { blobOf, ociIndex, ociManifest, randomBlob, type Blob, type Manifest } from '../helpers/content.js';

export interface Listening {
  server: http.Server;
  url: string;
  host: string;
  close(): Promise<void>;
}

export async function listen(handler: http.RequestListener): Promise<Listening> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export async function tempDir(prefix: string): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function openStorage(root: string): Promise<RegistryStorage> {
  const storage = new RegistryStorage(new FilesystemDriver(root), { ttlMs: 1, manifestBytes: 1024 * 1024 });
  await storage.open();
  return storage;
}

export interface RecordedRequest {
  method: string;
  path: string;
  authorization?: string;
}

export interface Upstream extends Listening {
  storage: RegistryStorage;
  requests: RecordedRequest[];
  /** Requests whose method matches and whose path matches the pattern. */
  count(method: string, pattern: RegExp): number;
  /** While set, every request is answered with this status (and still recorded). */
  failWith?: number;
}

export interface UpstreamOptions {
  /** Demand `Authorization: Bearer <token>` signed by this issuer. */
  issuer?: TokenIssuer;
}

/** Another stowage instance as the upstream registry, every request recorded. */
export async function startUpstream(options: UpstreamOptions = {}): Promise<Upstream> {
  const root = await tempDir('stowage-upstream-');
  const storage = await openStorage(root);
  const app = createApp({ config: configFrom({ storage: { filesystem: { rootdirectory: root } } }), storage }).callback();
  const requests: RecordedRequest[] = [];
  const listening = await listen((req, res) => {
    const url = new URL(req.url ?? '/', 'http://upstream');
    requests.push({ method: req.method ?? '', path: url.pathname, authorization: req.headers.authorization });
    if (upstream.failWith !== undefined) {
      res.writeHead(upstream.failWith).end();
      return;
    }
    if (options.issuer && !options.issuer.admits(req.headers.authorization, url.pathname)) {
      res.writeHead(401, {
        'Content-Type': 'application/json',
        'WWW-Authenticate': options.issuer.challenge(url.pathname),
      });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    void app(req, res);
  });
  const upstream: Upstream = {
    ...listening,
    storage,
    requests,
    count: (method, pattern) => requests.filter((r) => r.method === method && pattern.test(r.path)).length,
    close: async () => {
      await listening.close();
      await fsp.rm(root, { recursive: true, force: true });
    },
  };
  return upstream;
}

export interface Image {
  name: string;
  tag: string;
  config: Blob;
  layers: Blob[];
  manifest: Manifest;
}

/** Pushes blobs and a manifest straight into a registry's storage. */
export async function pushImage(storage: RegistryStorage, name: string, tag: string, layers: Blob[] = [randomBlob(300_000, 7)]): Promise<Image> {
  const config = blobOf(JSON.stringify({ architecture: 'amd64', os: 'linux', seed: randomBytes(4).toString('hex') }));
  for (const blob of [config, ...layers]) await pushBlob(storage, name, blob);
  const manifest = ociManifest(config, layers);
  await storage.manifests.put(name, tag, manifest.bytes, manifest.mediaType);
  return { name, tag, config, layers, manifest };
}

export async function pushBlob(storage: RegistryStorage, name: string, blob: Blob): Promise<void> {
  const upload = await storage.uploads.start(name);
  await storage.uploads.finish(name, upload.id, blob.digest, Readable.from([blob.bytes]));
}

/** Pushes an index of the given images' manifests under tag (the images must be in name). */
export async function pushIndex(storage: RegistryStorage, name: string, tag: string, children: Manifest[]): Promise<Manifest> {
  const index = ociIndex(children);
  await storage.manifests.put(name, tag, index.bytes, index.mediaType);
  return index;
}

export interface ProxyServer extends Listening {
  storage: RegistryStorage;
  proxy: PullThroughProxy;
  root: string;
}

/** A stowage that proxies, configured by the given config fragment (proxy / stowage.proxies). */
export async function startProxy(fragment: Record<string, unknown>, options: { fillTimeoutMs?: number; clock?: TestClock } = {}): Promise<ProxyServer> {
  const root = await tempDir('stowage-proxy-');
  const storage = await openStorage(root);
  const config = configFrom({ ...fragment, storage: { filesystem: { rootdirectory: root } } });
  const logger = silentLogger();
  const metrics = new RegistryMetrics();
  const proxy = proxyFromConfig(config, storage, logger, {
    spoolDir: path.join(root, 'spool'),
    fillTimeoutMs: options.fillTimeoutMs,
    now: options.clock?.now,
    observer: metrics.proxyObserver(),
  });
  if (!proxy) throw new Error('the fragment configures no proxy');
  const app = createApp({ config, storage, logger, proxy, metrics }).callback();
  const listening = await listen((req, res) => void app(req, res));
  return {
    ...listening,
    storage,
    proxy,
    root,
    close: async () => {
      await listening.close();
      await proxy.close();
      await fsp.rm(root, { recursive: true, force: true });
    },
  };
}

/** A clock for TTLs that tests move by hand. */
export class TestClock {
  private offset = 0;
  readonly now = (): number => Date.now() + this.offset;
  advance(ms: number): void {
    this.offset += ms;
  }
}

/** A token issuer in the shape of distribution's token auth: HMAC-signed JWT-ish tokens. */
export class TokenIssuer {
  readonly secret = randomBytes(16);
  readonly issued: Array<{ scope: string; account?: string }> = [];
  private listening?: Listening;

  constructor(
    private readonly users: Record<string, string> = {},
    private readonly lifetimeSeconds = 300,
  ) {}

  get realm(): string {
    if (!this.listening) throw new Error('issuer not started');
    return `${this.listening.url}/token`;
  }

  async start(): Promise<void> {
    this.listening = await listen((req, res) => {
      const url = new URL(req.url ?? '/', 'http://issuer');
      const scope = url.searchParams.get('scope') ?? '';
      let account: string | undefined;
      const auth = req.headers.authorization;
      if (auth?.startsWith('Basic ')) {
        const [user, password] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
        if (this.users[user] !== password) {
          res.writeHead(401).end();
          return;
        }
        account = user;
      } else if (Object.keys(this.users).length > 0) {
        res.writeHead(401).end();
        return;
      }
      this.issued.push({ scope, account });
      const token = this.sign({ scope, account, exp: Math.floor(Date.now() / 1000) + this.lifetimeSeconds });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token, expires_in: this.lifetimeSeconds }));
    });
  }

  async close(): Promise<void> {
    await this.listening?.close();
  }

  challenge(pathname: string): string {
    const name = /^\/v2\/(.+)\/(?:manifests|blobs|tags)\//.exec(pathname)?.[1];
    const scope = name ? `,scope="repository:${name}:pull"` : '';
    return `Bearer realm="${this.realm}",service="test-registry"${scope}`;
  }

  /** Whether the Authorization carries a valid token for the repository the path names. */
  admits(authorization: string | undefined, pathname: string): boolean {
    if (!authorization?.startsWith('Bearer ')) return false;
    const claims = this.verify(authorization.slice(7));
    if (!claims || claims.exp * 1000 < Date.now()) return false;
    const name = /^\/v2\/(.+)\/(?:manifests|blobs|tags)\//.exec(pathname)?.[1];
    return name === undefined || claims.scope === `repository:${name}:pull`;
  }

  private sign(claims: { scope: string; account?: string; exp: number }): string {
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const signature = createHmac('sha256', this.secret).update(`${header}.${body}`).digest('base64url');
    return `${header}.${body}.${signature}`;
  }

  private verify(token: string): { scope: string; exp: number } | undefined {
    const [header, body, signature] = token.split('.');
    if (!header || !body || !signature) return undefined;
    const expected = createHmac('sha256', this.secret).update(`${header}.${body}`).digest('base64url');
    if (expected !== signature) return undefined;
    return JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { scope: string; exp: number };
  }
}

/** GET through the proxy, the body read whole (test sizes are small). */
export async function pull(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(url, init);
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body };
}

export const ACCEPT_ALL = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');
