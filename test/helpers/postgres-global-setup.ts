// vitest globalSetup (vitest.config.ts): one PostgreSQL server for the whole run, started before the
// workers and stopped after the last file; tests reach it through createTestDatabase()
// (helpers/postgres.ts), which makes each caller a database of its own. Starting costs under a
// second once per run. If PostgreSQL is missing or does not start, the run goes on and the tests that
// ask for a database fail with the reason, so suites that do not use it still run on such a machine.
import type { TestProject } from 'vitest/node';
import { startPostgres } from './postgres-server.js';

/** What the workers get: the server's superuser URL and major version, or why there is no server. */
export type ProvidedPostgres = { url: string; version: number } | { error: string };

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: ProvidedPostgres;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  // Every project that extends the root config runs this file too, and the root project always runs
  // it; what the root provides every project sees. So the root starts the one server, the rest do nothing.
  if (!project.isRootProject()) return undefined;
  try {
    const server = await startPostgres();
    project.provide('postgres', { url: server.url, version: server.version });
    return () => server.stop();
  } catch (err) {
    const error = (err as Error).message;
    console.warn(`postgres: no test server, the tests that need one will fail: ${error}`);
    project.provide('postgres', { error });
    return undefined;
  }
}
