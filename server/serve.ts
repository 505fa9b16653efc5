// Start-up and shutdown of the HTTP server: open storage, listen, and on SIGTERM stop accepting,
// let in-flight requests finish up to the drain deadline, then exit.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import { RegistryMetrics } from './metrics.js';
import { parseDuration, parseListenAddress, type RegistryConfig } from './config.js';
import { openStorage } from './open-storage.js';
import { startMaintenance } from './maintenance.js';
import type { Logger } from './logger.js';

export interface RunningServer {
  server: http.Server;
  port: number;
  close(): Promise<void>;
}

export async function startServer(config: RegistryConfig, logger: Logger): Promise<RunningServer> {
  const storage = await openStorage(config);
  const driver = storage.driver;
  const metrics = new RegistryMetrics();
  metrics.collectProcessMetrics();
  const app = createApp({ config, storage, logger, metrics });
  const stopMaintenance = startMaintenance(config, storage, logger);
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
  logger.info({ addr: config.http.addr, port: actualPort, storage: driver.kind }, 'listening');
  const drainMs = config.http.draintimeout !== undefined ? parseDuration(config.http.draintimeout) : 30_000;
  return {
    server,
    port: actualPort,
    close: () =>
      new Promise<void>((resolve) => {
        stopMaintenance();
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
