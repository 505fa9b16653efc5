// A registry with authentication for the auth tests, built as production builds it (config ->
// openAuth -> createApp) on a temp filesystem root, served on 127.0.0.1, with an htpasswd file of
// the given users (bcrypt cost 4 unless told, to keep tests fast) and every log line kept for inspection.
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import bcrypt from 'bcryptjs';
import supertest, { type Test } from 'supertest';
import { openAuth } from '../../auth/open-auth.js';
import { createApp } from '../../server/app.js';
import { authSettingsFrom, configFrom, type RegistryConfig } from '../../server/config.js';
import { createLogger } from '../../server/logger.js';
import { RegistryStorage } from '../../storage/registry.js';
import { FilesystemDriver } from '../../storage/drivers/fs/fs-driver.js';
import { blobOf, ociManifest, randomBlob, type Blob, type Manifest } from '../helpers/content.js';

export interface AuthPaths {
  /** The temp directory holding everything. */
  dir: string;
  /** The registry's storage root. */
  root: string;
  htpasswd: string;
}

export interface AuthRegistryOptions {
  /** user -> password, written to paths.htpasswd. */
  users?: Record<string, string>;
  /** user -> bcrypt cost, for users whose hash must be slower than the default 4. */
  costs?: Record<string, number>;
  /** The raw config (auth, stowage.auth ...) given the paths; storage and log settings are added. */
  config: (paths: AuthPaths) => Record<string, unknown>;
}

export interface AuthRegistry {
  paths: AuthPaths;
  config: RegistryConfig;
  storage: RegistryStorage;
  port: number;
  url: string;
  request: ReturnType<typeof supertest>;
  /** Every line the registry logged, at trace level. */
  logs: string[];
  /** Stops the server and starts a new process over the same directory. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  cleanup(): Promise<void>;
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

export async function writeHtpasswd(file: string, users: Record<string, string>, costs: Record<string, number> = {}): Promise<void> {
  const lines = Object.entries(users).map(([user, password]) => `${user}:${bcrypt.hashSync(password, costs[user] ?? 4).replace(/^\$2b\$/, '$2y$')}`);
  await fsp.writeFile(file, `${lines.join('\n')}\n`);
}

export async function startAuthRegistry(options: AuthRegistryOptions): Promise<AuthRegistry> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'stowage-auth-'));
  const paths: AuthPaths = { dir, root: path.join(dir, 'root'), htpasswd: path.join(dir, 'users.htpasswd') };
  await fsp.mkdir(paths.root);
  await writeHtpasswd(paths.htpasswd, options.users ?? {}, options.costs);
  const raw = options.config(paths);
  const config = configFrom({
    ...raw,
    log: { level: 'trace', accesslog: { disabled: false } },
    storage: { filesystem: { rootdirectory: paths.root }, delete: { enabled: true } },
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });

  let server: http.Server;
  let storage: RegistryStorage;
  const start = async () => {
    const logger = createLogger('trace', sink);
    storage = new RegistryStorage(new FilesystemDriver(paths.root));
    await storage.open();
    const auth = await openAuth(authSettingsFrom(config), logger);
    const app = createApp({ config, storage, logger, auth });
    server = http.createServer(app.callback());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
  };
  const stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  try {
    await start();
  } catch (err) {
    await fsp.rm(dir, { recursive: true, force: true });
    throw err;
  }
  const reg: AuthRegistry = {
    paths,
    config,
    storage: storage!,
    port: 0,
    url: '',
    request: supertest('http://127.0.0.1'),
    logs,
    async restart() {
      await stop();
      await start();
      refresh();
    },
    stop,
    async cleanup() {
      await stop();
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
  const refresh = () => {
    reg.storage = storage;
    reg.port = (server.address() as AddressInfo).port;
    reg.url = `http://127.0.0.1:${reg.port}`;
    reg.request = supertest(reg.url);
  };
  refresh();
  return reg;
}

/** Pushes a one-layer image with the given Authorization header; returns the answers' statuses. */
export async function pushImageWith(
  reg: AuthRegistry,
  authorization: string | undefined,
  name: string,
  tag: string,
  seed = 1,
): Promise<{ manifest: Manifest; layer: Blob; statuses: number[] }> {
  const config = blobOf(JSON.stringify({ architecture: 'amd64', os: 'linux', seed }));
  const layer = randomBlob(1024 + seed, seed);
  const manifest = ociManifest(config, [layer]);
  const statuses: number[] = [];
  const withAuth = (test: Test) => (authorization ? test.set('Authorization', authorization) : test);
  for (const blob of [config, layer]) {
    const res = await withAuth(reg.request.post(`/v2/${name}/blobs/uploads/?digest=${blob.digest}`))
      .set('Content-Type', 'application/octet-stream')
      .send(blob.bytes);
    statuses.push(res.status);
  }
  const res = await withAuth(reg.request.put(`/v2/${name}/manifests/${tag}`))
    .set('Content-Type', manifest.mediaType)
    .serialize((body: unknown) => body as string)
    .send(manifest.bytes);
  statuses.push(res.status);
  return { manifest, layer, statuses };
}

/**
 * Every file under dir as relative path -> sha256, to show that a refused request stored nothing.
 * Entries removed while the walk runs (an upload being cancelled) are left out.
 */
export async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const vanished = (err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  };
  const walk = async (current: string): Promise<void> => {
    const entries = await fsp.readdir(current, { withFileTypes: true }).catch((err: unknown) => (vanished(err), []));
    for (const entry of entries) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) {
        out.set(`${path.relative(dir, full)}/`, 'dir');
        await walk(full);
      } else {
        const bytes = await fsp.readFile(full).catch((err: unknown) => vanished(err));
        if (bytes) out.set(path.relative(dir, full), createHash('sha256').update(bytes).digest('hex'));
      }
    }
  };
  await walk(dir);
  return out;
}
