#!/usr/bin/env node
// The `stowage` command: argument parsing and start-up only. `serve` is what `npm start` runs;
// gc, scrub and retag work on the configured storage directly and are safe while it serves;
// ls, du and tags ask a running registry's JSON API (/api/v1/).
import * as os from 'node:os';
import { Command } from 'commander';
import { ConfigError, loadConfig, parseDuration, type LoadedConfig } from './config.js';
import { createLogger, flushBeforeExit } from './logger.js';
import { startServer } from './serve.js';
import { openStorage } from './open-storage.js';
import { GcBusyError, collectGarbage } from '../storage/jobs/gc.js';
import { RegistryError } from '../errors/registry-error.js';
import { retagCommand } from './commands/images.js';
import { diskUsageCommand, listCommand, tagsCommand } from './commands/listings.js';
import { ApiClient, ApiError } from './commands/api-client.js';
import { scrubCommand } from './commands/scrub.js';
import { reindexCommand } from './commands/reindex.js';
import { robotCreateCommand, robotListCommand, robotRemoveCommand } from './commands/robots.js';
import { auditCommand, commandOrigin, type AuditCommandOptions } from './commands/audit.js';
import type { OpenOptions } from '../storage/open.js';

const print = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

function loadConfigOrExit(file?: string): LoadedConfig {
  try {
    return loadConfig(file);
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
program.name('stowage').description('A private OCI container image registry with a pull-through proxy');

program
  .command('serve')
  .description('run the registry (default: port 5000, data under ./data)')
  .option('-c, --config <file>', 'YAML configuration file (registry:2 config.yml keys)')
  .action(async (options: { config?: string }) => {
    const loaded = loadConfigOrExit(options.config);
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
      // Storage that cannot be opened, a port in use: say why in one line (the stack at debug).
      const detail = loaded.config.log.level === 'debug' || loaded.config.log.level === 'trace' ? (err as Error).stack : (err as Error).message;
      process.stderr.write(`stowage: cannot start: ${detail}\n`);
      process.exit(1);
    }
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
  .action(
    withStorage(async (storage, src: string, dst: string, options: { json?: boolean }) => retagCommand(storage, src, dst, !!options.json, print)),
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

apiCommand('du', 'the size of each repository (or of REPO and those under it) and the total')
  .argument('[repository]')
  .action(withApi(async (client, options, name: string | undefined) => diskUsageCommand(client, name, !!options.json, print)));

apiCommand('tags', 'list the tags of a repository with digest, size, platforms, push and pull times')
  .argument('<repository>')
  .action(withApi(async (client, options, name: string) => tagsCommand(client, name, !!options.json, print)));

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`stowage: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
