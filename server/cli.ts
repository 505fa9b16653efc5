#!/usr/bin/env node
// The `stowage` command. `serve` is what `npm start` runs.
import { Command } from 'commander';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { startServer } from './serve.js';

const program = new Command();
program.name('stowage').description('A private OCI container image registry with a pull-through proxy');

program
  .command('serve')
  .description('run the registry (default: port 5000, data under ./data)')
  .option('-c, --config <file>', 'YAML configuration file (registry:2 config.yml keys)')
  .action(async (options: { config?: string }) => {
    let loaded;
    try {
      loaded = loadConfig(options.config);
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`stowage: ${err.message}\n`);
        process.exit(2);
      }
      throw err;
    }
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

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`stowage: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
