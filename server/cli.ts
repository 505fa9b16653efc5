#!/usr/bin/env node
// The `stowage` command: argument parsing and start-up only. `serve` is what `npm start` runs;
// gc, scrub and retag work on the configured storage directly and are safe while it serves;
// ls, du and tags ask a running registry's JSON API (/api/v1/).
import * as os from 'node:os';
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, loadConfig, parseDuration, type CommandLineSettings, type LoadedConfig } from './config.js';
import { explainStartupError, startupLine } from './startup-report.js';
import { PACKAGE } from './version.js';
import { createLogger, flushBeforeExit } from './logger.js';
import { startServer } from './serve.js';
import { openStorage } from './open-storage.js';
import { GcBusyError, collectGarbage } from '../storage/jobs/gc.js';
import { RegistryError } from '../errors/registry-error.js';
import { removeCommand } from './commands/remove.js';
import { retagCommand } from './commands/images.js';
import { diskUsageCommand, listCommand, tagsCommand } from './commands/listings.js';
import { ApiClient, ApiError } from './commands/api-client.js';
import { scrubCommand } from './commands/scrub.js';
import { reindexCommand } from './commands/reindex.js';
import { robotCreateCommand, robotListCommand, robotRemoveCommand } from './commands/robots.js';
import { auditCommand, commandOrigin, type AuditCommandOptions } from './commands/audit.js';
import type { OpenOptions } from '../storage/open.js';
import { retentionRunCommand } from './commands/retention.js';

const print = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

function loadConfigOrExit(file?: string, commandLine: CommandLineSettings = {}): LoadedConfig {
  try {
    return loadConfig(file, process.env, commandLine);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`stowage: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/**
 * Runs a storage command with the configured storage, closed after it (the database's writes are
 * then on disk); registry errors print as one line.
 */
function withStorage<A extends unknown[]>(
  run: (storage: Awaited<ReturnType<typeof openStorage>>, ...args: A) => Promise<void>,
  open: OpenOptions = {},
) {
  return async (...args: A): Promise<void> => {
    const options = args[args.length - 2] as { config?: string };
    const storage = await openStorage(loadConfigOrExit(options.config).config, open);
    try {
      await run(storage, ...args);
    } catch (err) {
      if (err instanceof RegistryError) {
        process.stderr.write(`stowage: ${err.code}: ${err.message}${err.detail ? ` ${JSON.stringify(err.detail)}` : ''}\n`);
        // Not process.exit(): the storage closes first, writing the audit log's last events.
        process.exitCode = 1;
        return;
      }
      throw err;
    } finally {
      await storage.close();
    }
  };
}

const program = new Command();
program
  .name('stowage')
  .description('A private OCI container image registry with a pull-through proxy')
  .version(PACKAGE.version, '-V, --version', 'print the version');

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new InvalidArgumentError('a port is a number from 0 to 65535');
  return port;
}

program
  .command('serve')
  .description('run the registry (default: port 5000, data under ./data)')
  .option('-c, --config <file>', 'YAML configuration file (registry:2 config.yml keys)')
  .option('--addr <host:port>', 'listen here (sets http.addr), e.g. 127.0.0.1:5000 or :5000')
  .option('-p, --port <port>', 'listen on this port (sets the port of http.addr)', parsePort)
  .option('--data <dir>', 'keep the data in this directory (sets storage.filesystem.rootdirectory)')
  .addHelpText(
    'after',
    `
Settings come from the config file, then REGISTRY_* environment variables (as registry:2 reads
them: REGISTRY_ and the key path in upper case joined by _), then these options. For example:
  REGISTRY_CONFIGURATION_PATH=/etc/stowage/config.yml   the config file (like --config)
  REGISTRY_HTTP_ADDR=:5000                              http.addr
  REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=/var/lib/stowage
  REGISTRY_STORAGE_DELETE_ENABLED=true                  allow DELETE of manifests and blobs
  REGISTRY_STORAGE_S3_BUCKET=registry                   (and _REGIONENDPOINT, _ACCESSKEY, _SECRETKEY)
  REGISTRY_AUTH_HTPASSWD_PATH=/etc/stowage/htpasswd     (and REGISTRY_AUTH_HTPASSWD_REALM)
  REGISTRY_PROXY_REMOTEURL=https://registry-1.docker.io a whole-registry pull-through cache
  REGISTRY_LOG_LEVEL=debug
  REGISTRY_STOWAGE_DATABASE_URL=postgres://user:pw@host:5432/stowage
PORT=5010 is used when nothing else sets http.addr (as platforms that assign a port expect).`,
  )
  .action(async (options: { config?: string; addr?: string; port?: number; data?: string }) => {
    const loaded = loadConfigOrExit(options.config, { addr: options.addr, port: options.port, data: options.data });
    const logger = createLogger(loaded.config.log.level);
    for (const warning of loaded.warnings) logger.warn(warning);
    // Signals are heard from the start: one that arrives while the server is still starting
    // (the 'listening' line is already out) stops it as soon as it is up.
    let running: Awaited<ReturnType<typeof startServer>> | undefined;
    let stopping: NodeJS.Signals | undefined;
    const shutDown = (server: NonNullable<typeof running>) => {
      void server.close().then(async () => {
        logger.info('stopped');
        await flushBeforeExit(logger, 2000);
        process.exit(0);
      });
    };
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        // A second signal: the operator will not wait for the transfers in flight.
        logger.warn({ signal }, 'second signal: exiting now');
        void flushBeforeExit(logger, 500).then(() => process.exit(128 + (os.constants.signals[signal] ?? 15)));
        return;
      }
      stopping = signal;
      logger.info({ signal }, 'shutting down');
      if (running) shutDown(running);
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    try {
      running = await startServer(loaded.config, logger);
    } catch (err) {
      // Settings only checkable while assembling the server (an alias loop) are config errors too.
      if (err instanceof ConfigError) {
        process.stderr.write(`stowage: ${err.message}\n`);
        process.exit(2);
      }
      // Storage that cannot be opened, a port in use: say why and what to change in one line (the stack at debug).
      const debug = loaded.config.log.level === 'debug' || loaded.config.log.level === 'trace';
      process.stderr.write(`stowage: cannot start: ${explainStartupError(err, loaded.config)}\n${debug ? `${(err as Error).stack}\n` : ''}`);
      process.exit(1);
    }
    // Once, in words, beside the JSON log: where to point clients, and where the bytes go.
    process.stderr.write(`${startupLine(loaded.config, running.port, running.tls)}\n`);
    if (stopping) shutDown(running);
  });

program
  .command('gc')
  .description('delete blobs no kept manifest references')
  .option('-c, --config <file>', 'YAML configuration file')
  .option('--dry-run', 'report what would be deleted, delete nothing')
  .option('--delete-untagged', 'also delete manifests no tag reaches (and what only they reference)')
  .option('--grace <duration>', 'keep anything written more recently than this', '1h')
  .option('--json', 'print the report as JSON')
  .action(
    withStorage(async (storage, options: { dryRun?: boolean; deleteUntagged?: boolean; grace: string; json?: boolean }) => {
      let report;
      try {
        report = await collectGarbage(storage, {
          dryRun: options.dryRun,
          deleteUntagged: options.deleteUntagged,
          gracePeriodMs: parseDuration(options.grace),
          origin: commandOrigin(),
        });
      } catch (err) {
        if (!(err instanceof GcBusyError)) throw err;
        process.stderr.write(`stowage: ${err.message}\n`);
        // EX_TEMPFAIL: a scheduler may simply try again later.
        process.exit(75);
      }
      if (options.json) return print(JSON.stringify(report));
      const verb = report.dryRun ? 'would delete' : 'deleted';
      for (const m of report.manifestsDeleted) print(`manifest ${verb}: ${m}`);
      for (const b of report.blobsDeleted) print(`blob ${verb}: ${b}`);
      print(
        `${report.repositories} repositories, ${report.manifestsKept} manifests kept, ${report.manifestsDeleted.length} ${verb}; ` +
          `${report.blobsKept} blobs kept, ${report.blobsDeleted.length} ${verb} (${report.bytesFreed} bytes)`,
      );
    }),
  );

program
  .command('scrub')
  .description('re-hash every stored blob and report those whose content no longer matches, and leftovers of interrupted writes')
  .option('-c, --config <file>', 'YAML configuration file')
  .option('--json', 'print the report as JSON')
  .action(
    withStorage(async (storage, options: { json?: boolean }) => {
      process.exitCode = await scrubCommand(storage, !!options.json, print);
    }),
  );

program
  .command('reindex')
  .description('rebuild the metadata database from storage (a stowage or registry:2 tree); with --verify, only compare them')
  .option('-c, --config <file>', 'YAML configuration file')
  .option('--verify', 'change nothing: print every difference between the database and storage, one per line; exit 1 if there is any')
  .option('--json', 'print JSON (with --verify: one object per difference)')
  .action(
    withStorage(
      async (storage, options: { config?: string; verify?: boolean; json?: boolean }) => {
        const { config } = loadConfigOrExit(options.config);
        const note = (line: string) => process.stderr.write(`${line}\n`);
        process.exitCode = await reindexCommand(storage, config, { verify: !!options.verify, json: !!options.json, note }, print);
      },
      // Reindex imports itself, and --verify must find the database as it is.
      { importExisting: false },
    ),
  );

program
  .command('retag')
  .description('make SRC (repo:tag or repo@digest) reachable as DST (repo[:tag]) by linking, without copying bytes')
  .argument('<src>')
  .argument('<dst>')
  .option('-c, --config <file>', 'YAML configuration file')
  .option('--json', 'print the result as JSON')
  .option('--force', 'move a destination tag that points at another image (refused otherwise)')
  .action(
    withStorage(async (storage, src: string, dst: string, options: { json?: boolean; force?: boolean }) =>
      retagCommand(storage, src, dst, options, print),
    ),
  );

program
  .command('rm')
  .description('delete a tag (REPO:TAG), or a manifest and its tags (REPO@DIGEST), by the rules of DELETE /v2/<name>/manifests/<reference>')
  .argument('<image>', 'REPO:TAG or REPO@DIGEST')
  .option('-c, --config <file>', 'YAML configuration file')
  .option('--json', 'print the result as JSON')
  .action(
    withStorage(async (storage, image: string, options: { config?: string; json?: boolean }) =>
      removeCommand(storage, loadConfigOrExit(options.config).config, image, options, print),
    ),
  );

const robot = program.command('robot').description('robot accounts: credentials for CI, limited to their grants (stored in the metadata database)');
const note = (line: string) => process.stderr.write(`${line}\n`);

robot
  .command('create')
  .description('create robot NAME (it logs in as robot$NAME) and print its secret, once')
  .argument('<name>')
  .requiredOption('--repositories <globs...>', 'repository globs it may act on (* within a component, ** across)')
  .requiredOption('--actions <actions>', 'what it may do there: pull,push,delete')
  .option('--expires <duration>', 'lifetime, e.g. 90d, 12h, 2w (default: never expires)')
  .option('-c, --config <file>', 'YAML configuration file')
  .option('--json', 'print the robot and its secret as JSON')
  .action(
    withStorage(async (storage, name: string, options: { repositories: string[]; actions: string; expires?: string; json?: boolean }) => {
      const request = { name, repositories: options.repositories, actions: options.actions, expires: options.expires };
      process.exitCode = await robotCreateCommand(storage, request, !!options.json, { print, note });
    }),
  );

robot
  .command('ls')
  .description('list robots: name, repositories, actions, created, expires, last used')
  .option('-c, --config <file>', 'YAML configuration file')
  .option('--json', 'print JSON')
  .action(
    withStorage(async (storage, options: { json?: boolean }) => {
      process.exitCode = await robotListCommand(storage, !!options.json, { print, note });
    }),
  );

robot
  .command('rm')
  .description('remove robot NAME: its logins and the tokens it holds are refused from then on')
  .argument('<name>')
  .option('-c, --config <file>', 'YAML configuration file')
  .action(
    withStorage(async (storage, name: string) => {
      process.exitCode = await robotRemoveCommand(storage, name, { print, note });
    }),
  );

program
  .command('retention')
  .description('tag retention (stowage.retention): delete the tags no policy keeps, the manifests that orphans, then collect garbage')
  .command('run')
  .description('run the policies now; with --dry-run, list what would be deleted and why')
  .option('-c, --config <file>', 'YAML configuration file')
  .option('--dry-run', 'delete nothing: list what a run would delete, and why')
  .option('--now <time>', 'evaluate the policies as if at this time: ISO 8601, ms since the epoch, or +/-duration (+30d)')
  .option('--json', 'print the report as JSON')
  .action(
    withStorage(async (storage, options: { config?: string; dryRun?: boolean; json?: boolean; now?: string }) => {
      const { config } = loadConfigOrExit(options.config);
      process.exitCode = await retentionRunCommand(
        storage,
        config,
        { dryRun: !!options.dryRun, json: !!options.json, now: options.now },
        { print, note },
      );
    }),
  );

program
  .command('audit')
  .description('the audit log, newest first: pushes, deletes, retags, logins, robot changes, GC runs, refusals (from the metadata database)')
  .option('--since <when>', 'events since a duration ago (24h, 7d) or an ISO time')
  .option('--until <when>', 'events before a duration ago or an ISO time')
  .option('--user <user>', 'events of this user (robot$NAME for a robot)')
  .option('--repository <name>', 'events on this repository')
  .option('--action <action>', 'push, delete, mount, retag, login, robot-create, robot-rm, gc, pull, list, request, ...')
  .option('--limit <n>', 'at most this many events', '100')
  .option('-c, --config <file>', 'YAML configuration file')
  .option('--json', 'print a JSON array')
  .action(
    withStorage(async (storage, options: AuditCommandOptions) => {
      process.exitCode = await auditCommand(storage, options, print, note);
    }),
  );

interface ApiOptions {
  url: string;
  username?: string;
  password?: string;
  json?: boolean;
}

/** Options of the commands that read the JSON API of a running registry. */
function apiCommand(name: string, description: string): Command {
  return program
    .command(name)
    .description(description)
    .option('--url <url>', 'the registry (env STOWAGE_URL)', process.env.STOWAGE_URL ?? 'http://127.0.0.1:5000')
    .option('-u, --username <user>', 'log in as this user (env STOWAGE_USERNAME)', process.env.STOWAGE_USERNAME)
    .option(
      '-p, --password <password>',
      'with this password (env STOWAGE_PASSWORD, which other users cannot see in ps)',
      process.env.STOWAGE_PASSWORD,
    )
    .option('--json', 'print JSON');
}

/** Runs an API command; a refusal or an unreachable registry prints as one line, exit status 1. */
function withApi<A extends unknown[]>(run: (client: ApiClient, options: ApiOptions, ...args: A) => Promise<void>) {
  return async (...args: [...A, ApiOptions, Command]): Promise<void> => {
    const options = args[args.length - 2] as ApiOptions;
    try {
      await run(new ApiClient(options), options, ...(args.slice(0, -2) as A));
    } catch (err) {
      if (err instanceof ApiError) {
        process.stderr.write(`stowage: ${err.code}: ${err.message}\n`);
        process.exit(1);
      }
      throw err;
    }
  };
}

apiCommand('ls', 'list repositories (whose names start with PREFIX) with tag and manifest counts, size and last push')
  .argument('[prefix]')
  .action(withApi(async (client, options, prefix: string | undefined) => listCommand(client, prefix, !!options.json, print)));

apiCommand('du', 'the size of each repository (or of REPO and those under it), the total, and each quota used and allowed')
  .argument('[repository]')
  .action(withApi(async (client, options, name: string | undefined) => diskUsageCommand(client, name, !!options.json, print)));

apiCommand('tags', 'list the tags of a repository with digest, size, platforms, push and pull times')
  .argument('<repository>')
  .action(withApi(async (client, options, name: string) => tagsCommand(client, name, !!options.json, print)));

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`stowage: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
