// Types for bundle.mjs, which tests import (test/operations/serve-process.test.ts, the web UI's
// build in test/helpers/ui-global-setup.ts).
export function bundle(options?: { entryPoints: string[]; outfile: string }): Promise<unknown>;

/** What bundleUi() writes to dist/ui/manifest.json (server/routes/ui.ts reads it). */
export interface UiManifest {
  js: string;
  css: string;
  icon: string;
  files: string[];
  encodings: Array<'br' | 'gzip'>;
}

export function bundleUi(options?: { root?: string; outdir?: string }): Promise<UiManifest>;

/** Writes dist/stowage-main.cjs, the loader dist/stowage.mjs and its code cache under root. */
export function bundleServer(options?: { root?: string; entry?: string }): Promise<void>;
