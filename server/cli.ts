#!/usr/bin/env node
// The `stowage` command. `serve` is what `npm start` runs.
import { Command } from 'commander';
import { ConfigError, loadConfig, parseDuration } from './config.js';
import { collectGarbage } from '../storage/gc.js';
import { openStorage } from './open-storage.js';
import { createLogger } from './logger.js';
import { startServer } from './serve.js';

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
    const running = await startServer(loaded.config, logger);
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      void running.close().then(() => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });

program
  .command('gc')
  .description('delete blobs no kept manifest references (safe while the server runs)')
  .option('-c, --config <file>', 'YAML configuration file')
  .option('--dry-run', 'report what would be deleted, delete nothing')
  .option('--delete-untagged', 'also delete manifests no tag reaches (and what only they reference)')
  .option('--grace <duration>', 'keep anything written more recently than this', '1h')
  .option('--json', 'print the report as JSON')
  .action(async (options: { config?: string; dryRun?: boolean; deleteUntagged?: boolean; grace: string; json?: boolean }) => {
    const { config } = loadConfigOrExit(options.config);
    const storage = await openStorage(config);
    const report = await collectGarbage(storage, {
      dryRun: options.dryRun,
      deleteUntagged: options.deleteUntagged,
      gracePeriodMs: parseDuration(options.grace),
    });
    if (options.json) {
      process.stdout.write(`${JSON.stringify(report)}\n`);
      return;
    }
    const verb = report.dryRun ? 'would delete' : 'deleted';
    for (const m of report.manifestsDeleted) process.stdout.write(`manifest ${verb}: ${m}\n`);
    for (const b of report.blobsDeleted) process.stdout.write(`blob ${verb}: ${b}\n`);
    process.stdout.write(
      `${report.repositories} repositories, ${report.manifestsKept} manifests kept, ${report.manifestsDeleted.length} ${verb}; ` +
        `${report.blobsKept} blobs kept, ${report.blobsDeleted.length} ${verb} (${report.bytesFreed} bytes)\n`,
    );
  });

function loadConfigOrExit(file?: string) {
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

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`stowage: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
