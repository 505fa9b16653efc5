// What `stowage serve` tells a person at start-up, in plain words beside the JSON log: the URL it
// serves and where the data is, and, when it cannot start, which setting to change and how
// (an errno alone, "EACCES: permission denied, mkdir", names neither).
import * as path from 'node:path';
import { databaseUrl, parseListenAddress, storageRoot, type RegistryConfig } from './config.js';
import { parseDatabaseUrl } from '../storage/metadata/database.js';
import { PACKAGE } from './version.js';

/** The URL a client on this machine reaches the registry at. */
export function servedUrl(config: RegistryConfig, port: number, tls: boolean): string {
  const { host } = parseListenAddress(config.http.addr);
  const shown = !host || host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `${tls ? 'https' : 'http'}://${shown}:${port}`;
}

/** Where the bytes are: an absolute directory, or s3://bucket/root at an endpoint. */
export function dataLocation(config: RegistryConfig): string {
  const s3 = config.storage.s3;
  if (s3) {
    const root = (s3.rootdirectory ?? '').replace(/^\/+/, '');
    return `s3://${s3.bucket}/${root}${s3.regionendpoint ? ` at ${s3.regionendpoint}` : ''}`;
  }
  return path.resolve(storageRoot(config));
}

/** The one plain line after "listening": version, URL, data. */
export function startupLine(config: RegistryConfig, port: number, tls: boolean): string {
  return `stowage ${PACKAGE.version} serving ${servedUrl(config, port, tls)} (data: ${dataLocation(config)})`;
}

interface SystemError extends Error {
  code?: string;
  syscall?: string;
  path?: string;
  port?: number;
  address?: string;
}

function whoRuns(): string {
  const uid = process.getuid?.();
  const gid = process.getgid?.();
  return uid === undefined ? 'this user' : `uid ${uid} (gid ${gid})`;
}

/** A start-up failure in words that name the setting and the fix; the raw message otherwise. */
export function explainStartupError(err: unknown, config: RegistryConfig): string {
  const e = err as SystemError;
  const message = e?.message ?? String(err);
  if (e?.syscall === 'listen' || e?.syscall === 'bind') {
    const debugAddr = config.http.debug?.addr;
    const key = debugAddr && e.port !== undefined && parseListenAddress(debugAddr).port === e.port ? 'http.debug.addr' : 'http.addr';
    const where = `${e.address ?? ''}:${e.port ?? ''}`;
    const elsewhere = key === 'http.addr' ? 'stowage serve --port 5001, or REGISTRY_HTTP_ADDR=:5001' : 'REGISTRY_HTTP_DEBUG_ADDR=:5002';
    if (e.code === 'EADDRINUSE') return `${key} ${where}: another process already listens there. Stop it, or listen elsewhere (${elsewhere}).`;
    if (e.code === 'EACCES')
      return `${key} ${where}: ports below 1024 need root or CAP_NET_BIND_SERVICE; ${whoRuns()} has neither. Use a port above 1023 (${elsewhere}).`;
    if (e.code === 'EADDRNOTAVAIL')
      return `${key} ${where}: that host is not an address of this machine. Use ":PORT" for every address, or one this machine has.`;
    return `${key} ${where}: ${message}`;
  }
  if ((e?.code === 'EACCES' || e?.code === 'EPERM' || e?.code === 'EROFS') && e.path) {
    const database = parseDatabaseLocation(config);
    const failed = path.resolve(e.path);
    const within = (dir: string) => failed === dir || failed.startsWith(dir + path.sep);
    // The database's own file or folder, when it is not in the data directory (which fixes both).
    const inDatabase =
      database !== undefined &&
      !(config.storage.s3 === undefined && within(dataLocation(config))) &&
      (failed === database || within(path.dirname(database)));
    const key = inDatabase ? 'stowage.database.url' : 'storage.filesystem.rootdirectory';
    const target = inDatabase ? database : dataLocation(config);
    const problem = e.code === 'EROFS' ? `${e.path} is on a read-only file system` : `${whoRuns()} may not write ${e.path}`;
    const fix =
      e.code === 'EROFS'
        ? 'Point it at a writable volume'
        : `Give it to that user (as root: mkdir -p ${target} && chown -R ${process.getuid?.() ?? 'UID'} ${target}), or point it elsewhere (${key === 'stowage.database.url' ? 'REGISTRY_STOWAGE_DATABASE_URL' : 'stowage serve --data DIR, or REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY'}). In a container the registry runs as the image's user: mount a volume that user owns`;
    return `${key} (${target}): ${problem}. ${fix}.`;
  }
  return message;
}

function parseDatabaseLocation(config: RegistryConfig): string | undefined {
  try {
    const location = parseDatabaseUrl(databaseUrl(config));
    return location.dialect === 'sqlite' && location.target !== ':memory:' ? location.target : undefined;
  } catch {
    return undefined;
  }
}
