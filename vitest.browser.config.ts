// The browser tests (test/browser/): Debian's chromium through playwright-core against the
// production bundle, run by test/e2e/ui.sh after `npm run build`, not by `npm test` (they need
// chromium and skopeo, which the e2e scripts install). One file at a time: each starts a
// registry and a browser, and the machine has two cores.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    environment: 'node',
    include: ['test/browser/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
