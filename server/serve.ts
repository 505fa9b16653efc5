// Start-up and shutdown of the HTTP server: open storage, listen, and on SIGTERM stop accepting,
// let in-flight requests finish up to the drain deadline, then exit.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { FilesystemDriver } from '../storage/fs.js';
import { RegistryStorage } from '../storage/registry.js';
import { createApp } from './app.js';
import { parseDuration, parseListenAddress, storageRoot, type RegistryConfig } from './config.js';
import type { Logger } from './logger.js';

export interface RunningServer {
  server: http.Server;
  port: number;
  close(): Promise<void>;
}

export async function startServer(config: RegistryConfig, logger: Logger): Promise<RunningServer> {
  const driver = new FilesystemDriver(storageRoot(config));
  const storage = new RegistryStorage(driver, {
    ttlMs: parseDuration(config.stowage.cache.ttl),
    manifestBytes: config.stowage.cache.manifestbytes,
  });
  await storage.open();
  const app = createApp({ config, storage, logger });
  const server = http.createServer(app.callback());
  // Large blob uploads may take long: no whole-request deadline, but idle sockets are closed.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;
  server.setTimeout(120_000);
  const { host, port } = parseListenAddress(config.http.addr);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actualPort = (server.address() as AddressInfo).port;
  logger.info({ addr: config.http.addr, port: actualPort, storage: driver.kind, root: driver.root }, 'listening');
  const drainMs = config.http.draintimeout !== undefined ? parseDuration(config.http.draintimeout) : 30_000;
  return {
    server,
    port: actualPort,
    close: () =>
      new Promise<void>((resolve) => {
        const deadline = setTimeout(() => server.closeAllConnections(), drainMs);
        deadline.unref();
        server.close(() => {
          clearTimeout(deadline);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
