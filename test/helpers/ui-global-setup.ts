// vitest globalSetup (vitest.config.ts): builds the web UI (scripts/bundle.mjs bundleUi(), ui/src/
// into dist/ui/, a fifth of a second) once per run, so the server's /ui routes serve the current
// sources after a plain `npm ci && npm test` and after any edit, without a separate build step.
import type { TestProject } from 'vitest/node';
import { bundleUi } from '../../scripts/bundle.mjs';

export default async function setup(project: TestProject): Promise<void> {
  // Every project runs this file; the root project builds for all of them.
  if (!project.isRootProject()) return;
  await bundleUi();
}
