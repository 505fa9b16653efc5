// PostgreSQL for the scale workload's "stowage on S3 + PostgreSQL" column (issue 14), started the
// way the tests start it: Debian's binaries, `initdb` in a fresh temporary directory as a non-root
// user (PostgreSQL refuses to run as root), the server on 127.0.0.1 only. The server runs in the
// foreground as a tracked child, so an interrupted run stops it with the registries.
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { sleep } from './pool.js';
import { freePort, spawnLogged, stopChild } from './servers.js';

const POSTGRES_ROOT = '/usr/lib/postgresql';
const USER = 'stowage';

export interface LaunchedPostgres {
  port: number;
  pid: number;
  /** Creates a database and returns its URL for stowage.database.url. */
  createDatabase(name: string): string;
  stop(): Promise<void>;
}

/** The newest installed server's bin directory, or undefined when Debian's postgresql is missing. */
export function postgresBinDir(): string | undefined {
  if (!existsSync(POSTGRES_ROOT)) return undefined;
  const versions = readdirSync(POSTGRES_ROOT)
    .filter((v) => existsSync(join(POSTGRES_ROOT, v, 'bin/initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(POSTGRES_ROOT, versions[0], 'bin') : undefined;
}

/** The uid and gid to run as: ourselves unless root, else the postgres account (or nobody). */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n');
  for (const name of ['postgres', 'nobody']) {
    const fields = passwd.find((line) => line.startsWith(`${name}:`))?.split(':');
    if (fields) return { uid: Number(fields[2]), gid: Number(fields[3]) };
  }
  throw new Error('running as root and there is neither a postgres nor a nobody account to run PostgreSQL as');
}

export async function launchPostgres(workDir: string): Promise<LaunchedPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(`no PostgreSQL under ${POSTGRES_ROOT}: apt-get install postgresql`);
  const user = runAs();
  // Its own directory under the system's temp dir: the work directory is root's and private.
  const dir = mkdtempSync(join(os.tmpdir(), 'stowage-bench-pg-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const logFile = join(workDir, 'postgres.log');
  const asUser = { ...(user ?? {}), cwd: dir };
  execFileSync(join(bin, 'initdb'), ['-D', data, '-U', USER, '--auth=trust', '-E', 'UTF8', '--no-sync'], { ...asUser, stdio: 'ignore' });
  const port = await freePort();
  const child = spawnLogged(join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1'], logFile, asUser);
  const stop = async () => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = performance.now() + 30_000;
  for (;;) {
    try {
      execFileSync(join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
      break;
    } catch {
      if (child.exitCode !== null || performance.now() > deadline) {
        await stop();
        throw new Error(`PostgreSQL did not start; see ${logFile}`);
      }
      await sleep(50);
    }
  }
  return {
    port,
    pid: child.pid ?? 0,
    createDatabase(name) {
      execFileSync(join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', USER, name], { stdio: 'ignore' });
      // Trust authentication ignores the password; the URL has one because real ones do.
      return `postgres://${USER}:${USER}@127.0.0.1:${port}/${name}`;
    },
    stop,
  };
}
