// Start-up and shutdown of the HTTP server: open storage, listen, and on SIGTERM stop accepting,
// let in-flight requests finish up to the drain deadline, then exit. HTTPS when http.tls names a
// certificate and key; socket limits (stowage.http) against slow and oversized requests.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import { RegistryMetrics } from './metrics.js';
import { ConfigError, authSettingsFrom, parseListenAddress, type RegistryConfig } from './config.js';
import { openAuth } from '../auth/open-auth.js';
import { openStorage } from './open-storage.js';
import { startMaintenance } from './maintenance.js';
import { Notifier } from '../notifications/notifier.js';
import { startDebugServer } from './debug-server.js';
import type { Logger } from './logger.js';

export interface RunningServer {
  server: http.Server | https.Server;
  port: number;
  /** Whether it serves HTTPS (http.tls). */
  tls: boolean;
  /** Port of the http.debug metrics server, when configured. */
  debugPort?: number;
  close(): Promise<void>;
}

export async function startServer(config: RegistryConfig, logger: Logger): Promise<RunningServer> {
  const storage = await openStorage(config);
  if (storage.pulls) {
    storage.pulls.onProblem = ({ error, dropped }) =>
      error
        ? logger.warn({ err: (error as Error).message }, 'pull statistics not written yet; kept for the next write')
        : logger.warn({ dropped }, 'pull statistics dropped: more distinct images pulled than the batch holds while the database was busy');
  }
  const metrics = new RegistryMetrics();
  metrics.collectProcessMetrics();
  const auth = await openAuth(authSettingsFrom(config), logger, storage.robots);
  // One notifier for the requests and the retention timer's deletions.
  const notifier = new Notifier(config.notifications?.endpoints ?? [], logger);
  const app = createApp({ config, storage, logger, metrics, auth, notifier });
  const limits = config.stowage.http;
  const headersMs = limits.headerstimeoutMs;
  const serverOptions: http.ServerOptions = {
    maxHeaderSize: limits.maxheadersize,
    // How often Node looks for requests past headersTimeout (its default, 30 s, would dwarf a short timeout).
    connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(headersMs / 4))),
  };
  const tls = tlsOptions(config);
  const server = tls ? https.createServer({ ...serverOptions, ...tls }, app.callback()) : http.createServer(serverOptions, app.callback());
  const stopMaintenance = startMaintenance(config, storage, logger, notifier);
  storage.audit.onProblem = ({ error, dropped }) =>
    error
      ? logger.warn({ err: (error as Error).message }, 'audit events not written yet; kept for the next write')
      : logger.error({ dropped }, 'audit events dropped: the audit file or database could not be written for too long');
  // logrotate's postrotate: the audit file is opened again at its path.
  const reopenAudit = () => storage.audit.reopen();
  process.on('SIGHUP', reopenAudit);
  // Large blob uploads may take long: no whole-request deadline, but a connection that stays
  // silent for the idle timeout is destroyed (slow-loris uploads), its upload left as it was.
  server.requestTimeout = 0;
  server.headersTimeout = headersMs;
  server.keepAliveTimeout = 65_000;
  server.setTimeout(limits.idletimeoutMs);
  const { host, port } = parseListenAddress(config.http.addr);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actualPort = (server.address() as AddressInfo).port;
  const debug = await startDebugServer(config, metrics);
  logger.info(
    {
      addr: config.http.addr,
      port: actualPort,
      storage: storage.kind,
      // "distribution": a registry:2 tree served in place (README "Moving from registry:2").
      layout: storage.layout,
      tls: tls !== undefined,
      auth: auth ? Object.keys(config.auth ?? {}) : 'off',
    },
    'listening',
  );
  const drainMs = config.http.draintimeoutMs ?? 30_000;
  return {
    server,
    port: actualPort,
    tls: tls !== undefined,
    debugPort: debug?.port,
    close: () =>
      new Promise<void>((resolve) => {
        stopMaintenance();
        process.off('SIGHUP', reopenAudit);
        void debug?.close();
        const deadline = setTimeout(() => server.closeAllConnections(), drainMs);
        deadline.unref();
        // A keep-alive connection whose last transfer ends while we drain would otherwise stay
        // open until it times out: keep closing connections as they fall idle.
        const sweep = setInterval(() => server.closeIdleConnections(), 100);
        sweep.unref();
        server.close(() => {
          clearTimeout(deadline);
          clearInterval(sweep);
          // After the last request: pull counts still batched are written before the database closes.
          void storage.close().finally(resolve);
        });
        server.closeIdleConnections();
      }),
  };
}

const TLS_VERSIONS: Record<string, 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'> = {
  'tls1.0': 'TLSv1',
  'tls1.1': 'TLSv1.1',
  'tls1.2': 'TLSv1.2',
  'tls1.3': 'TLSv1.3',
};

/** https options from http.tls (Distribution's keys), or undefined for plain HTTP. */
export function tlsOptions(config: RegistryConfig): https.ServerOptions | undefined {
  const tls = config.http.tls;
  if (!tls) return undefined;
  if (tls.letsencrypt) throw new ConfigError('http.tls.letsencrypt is not supported: set http.tls.certificate and http.tls.key');
  if (!tls.certificate && !tls.key) return undefined;
  if (!tls.certificate || !tls.key) throw new ConfigError('http.tls needs both certificate and key');
  const read = (file: string, key: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ConfigError(`${key}: cannot read ${file}: ${(err as Error).message}`);
    }
  };
  const options: https.ServerOptions = {
    cert: read(tls.certificate, 'http.tls.certificate'),
    key: read(tls.key, 'http.tls.key'),
    minVersion: 'TLSv1.2',
  };
  if (tls.minimumtls) {
    const version = TLS_VERSIONS[tls.minimumtls];
    if (!version) throw new ConfigError(`http.tls.minimumtls: use one of ${Object.keys(TLS_VERSIONS).join(', ')}`);
    options.minVersion = version;
  }
  if (tls.clientcas?.length) {
    // Distribution's clientcas: clients must present a certificate signed by one of these.
    options.ca = tls.clientcas.map((file) => read(file, 'http.tls.clientcas'));
    options.requestCert = true;
    options.rejectUnauthorized = true;
  }
  return options;
}
