// A real PostgreSQL server for tests, from Debian's `postgresql` package (scripts/install-test-deps.sh
// installs it): initdb into a fresh temporary directory, then pg_ctl start listening on 127.0.0.1 only,
// on a free port, with its unix socket in that directory, trust authentication and fsync off (test data
// need not survive a power cut). PostgreSQL refuses to run as root, so as root (CI) it runs as the
// `postgres` user the package creates.
//
// pg_ctl puts the server in a session of its own, so it outlives a test run that is killed. A watchdog
// process (detached too) holds the read end of a pipe from this process and, when the pipe closes,
// stops the server and removes the directory. The kernel closes the pipe however this process ends,
// crash and kill -9 included; stop() closes it too, so the normal path and the crash path are one.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where Debian's packages put each major version's binaries: /usr/lib/postgresql/<major>/bin. */
const DEBIAN_ROOT = '/usr/lib/postgresql';
const INSTALL_HINT = 'run `bash scripts/install-test-deps.sh` (Debian: apt-get install postgresql)';
const SUPERUSER = 'postgres';
/** Tries at a free port: another process may take the one picked before the server binds it. */
const START_ATTEMPTS = 5;

export interface PostgresServer {
  /** The superuser on the maintenance database: postgres://postgres@127.0.0.1:PORT/postgres. */
  url: string;
  /** The server's major version (15 for 15.14). */
  version: number;
  /** The temporary directory: data directory, unix socket and server log. Gone after stop(). */
  directory: string;
  /** Stops the server at once (no checkpoint: the data is thrown away) and removes the directory. */
  stop(): Promise<void>;
}

/** The newest Debian-packaged PostgreSQL's bin directory, else the one pg_config on PATH names. */
export async function findPostgresBin(): Promise<string> {
  const majors = existsSync(DEBIAN_ROOT)
    ? readdirSync(DEBIAN_ROOT)
        .filter((name) => /^\d+$/.test(name))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const major of majors) {
    const bin = path.join(DEBIAN_ROOT, major, 'bin');
    if (existsSync(path.join(bin, 'initdb')) && existsSync(path.join(bin, 'pg_ctl'))) return bin;
  }
  try {
    const bin = (await run('pg_config', ['--bindir'])).stdout.trim();
    if (existsSync(path.join(bin, 'initdb'))) return bin;
  } catch {
    // No pg_config on PATH either: fall through to the message that says what to install.
  }
  throw new Error(`PostgreSQL not found (no ${DEBIAN_ROOT}/*/bin/initdb, no pg_config on PATH): ${INSTALL_HINT}`);
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = await findPostgresBin();
  const asRoot = process.getuid?.() === 0;
  // As root every PostgreSQL program runs as the postgres user, which must own the directory.
  const pgCommand = (program: string): string[] => {
    const file = path.join(bin, program);
    return asRoot ? ['runuser', '-u', SUPERUSER, '--', file] : [file];
  };
  const directory = await fsp.mkdtemp(path.join(os.tmpdir(), 'stowage-postgres-'));
  const data = path.join(directory, 'data');
  const log = path.join(directory, 'postgres.log');
  const exec = async (command: string[]): Promise<string> => (await run(command[0], command.slice(1), { cwd: directory })).stdout;

  const watchdog = startWatchdog(directory, data, pgCommand('pg_ctl'));
  const server: PostgresServer = {
    url: '',
    version: 0,
    directory,
    async stop() {
      if (watchdog.exitCode === null && watchdog.signalCode === null) {
        const exited = once(watchdog, 'exit');
        watchdog.ref(); // else nothing may keep this process alive until it exits
        watchdog.stdin!.end();
        await exited;
      }
      try {
        // The watchdog is gone; if something had killed it before it could stop the server, do it here.
        if (existsSync(path.join(data, 'postmaster.pid'))) await exec([...pgCommand('pg_ctl'), 'stop', '-D', data, '-m', 'immediate', '-s']);
      } finally {
        await fsp.rm(directory, { recursive: true, force: true });
      }
    },
  };

  try {
    if (asRoot) await run('chown', [`${SUPERUSER}:`, directory]);
    const version = /\(PostgreSQL\) (\d+)/.exec(await exec([...pgCommand('pg_ctl'), '--version']));
    server.version = Number(version?.[1]);
    // --no-sync: initdb's own fsyncs are most of its time. C locale: byte order, as SQLite compares.
    await exec([...pgCommand('initdb'), '-D', data, '-U', SUPERUSER, '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      // Later lines of postgresql.conf override earlier ones, so a retry just appends its port.
      await fsp.appendFile(
        path.join(data, 'postgresql.conf'),
        [
          '',
          '# stowage test server (test/helpers/postgres-server.ts)',
          `listen_addresses = '127.0.0.1'`,
          `port = ${port}`,
          `unix_socket_directories = '${directory.replaceAll("'", "''")}'`,
          'fsync = off',
          'full_page_writes = off',
          '',
        ].join('\n'),
      );
      await fsp.rm(log, { force: true }); // the reason for a retry is in this attempt's log only
      try {
        await exec([...pgCommand('pg_ctl'), 'start', '-D', data, '-l', log, '-w', '-t', '30', '-s']);
        server.url = `postgres://${SUPERUSER}@127.0.0.1:${port}/postgres`;
        return server;
      } catch (err) {
        const serverLog = await fsp.readFile(log, 'utf8').catch(() => '');
        if (attempt < START_ATTEMPTS && /could not bind/.test(serverLog)) continue;
        throw new Error(`pg_ctl start failed: ${(err as Error).message.trim()}\n${serverLog.trim().split('\n').slice(-10).join('\n')}`, {
          cause: err,
        });
      }
    }
  } catch (err) {
    await server.stop().catch(() => {});
    throw new Error(`PostgreSQL did not start (${bin}): ${(err as Error).message}`, { cause: err });
  }
}

/**
 * A shell that waits for EOF on its stdin, then stops the server and removes the directory. It runs
 * in its own session (detached), so a signal to this process's group does not take it down with us.
 */
function startWatchdog(directory: string, data: string, pgCtl: string[]): ChildProcess {
  const script = [
    'directory=$1; data=$2; shift 2',
    // Returns only at EOF: nobody writes to the pipe, the writer just goes away.
    'while read -r _; do :; done',
    'if [ -f "$data/postmaster.pid" ]; then "$@" stop -D "$data" -m immediate -s -t 30; fi',
    'rm -rf "$directory"',
  ].join('\n');
  const watchdog = spawn('sh', ['-c', script, 'postgres-watchdog', directory, data, ...pgCtl], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  // Neither the watchdog nor its pipe keeps this process alive.
  watchdog.unref();
  (watchdog.stdin as net.Socket).unref();
  return watchdog;
}

/** A port nothing listens on at the moment (the kernel picks it); the caller retries if it is taken. */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as net.AddressInfo;
  probe.close();
  await once(probe, 'close');
  return port;
}
