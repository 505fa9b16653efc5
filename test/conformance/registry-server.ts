// Our registry as the suite meets it: built the way production builds it (filesystem driver over a
// temporary directory, RegistryStorage.open(), configFrom, createApp) with deletes enabled, and
// served over real HTTP on 127.0.0.1, port 0.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../server/app.js';
import { configFrom } from '../../server/config.js';
import { FilesystemDriver } from '../../storage/drivers/fs/fs-driver.js';
import { RegistryStorage } from '../../storage/registry.js';

export interface ConformanceRegistry {
  url: string;
  root: string;
  stop(): Promise<void>;
}

export async function startConformanceRegistry(): Promise<ConformanceRegistry> {
  const root = await mkdtemp(join(tmpdir(), 'stowage-conformance-'));
  const storage = new RegistryStorage(new FilesystemDriver(root));
  await storage.open();
  const config = configFrom({
    storage: { filesystem: { rootdirectory: root }, delete: { enabled: true } },
    log: { level: 'error', accesslog: { disabled: true } },
  });
  const app = createApp({ config, storage });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    root,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await rm(root, { recursive: true, force: true });
    },
  };
}
