// vitest runs the TypeScript sources directly; suites start their own registries on 127.0.0.1.
// The API and driver-contract suites build everything they use per test (helpers/test-registry.ts)
// and keep no module state, so their files share module instances within a worker: importing
// the server, the S3 driver and s3rver once per worker instead of once per file halves their CPU
// time. Every other suite keeps vitest's default isolation. One PostgreSQL server serves the whole
// run (helpers/postgres-global-setup.ts, under a second to start); tests take a database of
// their own on it with createTestDatabase() (helpers/postgres.ts). The web UI is built into dist/ui/
// before the run (helpers/ui-global-setup.ts), for the /ui routes to serve.
import { defineConfig } from 'vitest/config';

const SHARED_MODULES = ['test/api/**/*.test.ts', 'test/contract/**/*.test.ts'];
// Run by test/e2e/ui.sh with vitest.browser.config.ts: they need chromium and a built dist/.
const BROWSER = ['test/browser/**'];

export default defineConfig({
  test: {
    environment: 'node',
    testTimeout: 20_000,
    hookTimeout: 20_000,
    globalSetup: ['test/helpers/postgres-global-setup.ts', 'test/helpers/ui-global-setup.ts'],
    projects: [
      { extends: true, test: { name: 'api', include: SHARED_MODULES, isolate: false } },
      { extends: true, test: { name: 'isolated', include: ['test/**/*.test.ts'], exclude: [...SHARED_MODULES, ...BROWSER] } },
    ],
  },
});
