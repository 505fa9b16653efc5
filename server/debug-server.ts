// Distribution's http.debug server: with prometheus enabled, /metrics (or the configured path)
// is also served on its own address, e.g. one only the monitoring network reaches.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RegistryConfig } from './config.js';
import { parseListenAddress } from './config.js';
import type { RegistryMetrics } from './metrics.js';

export interface DebugServer {
  port: number;
  close(): Promise<void>;
}

export async function startDebugServer(config: RegistryConfig, metrics: RegistryMetrics): Promise<DebugServer | undefined> {
  const debug = config.http.debug;
  if (!debug?.prometheus?.enabled) return undefined;
  const path = debug.prometheus.path;
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== path) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  const { host, port } = parseListenAddress(debug.addr);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
