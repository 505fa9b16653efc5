// The package's name and version, read once from package.json, and the folder holding it (where
// dist/ui/ is found). Found by walking up from this file, which sits at server/ in the sources,
// dist/server/ in tsc's output and dist/ in the one-file bundle (dist/stowage.mjs).
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageJson(): { name: string; version: string; root?: string } {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'stowage') return { name: pkg.name, version: pkg.version ?? '0.0.0', root: dir };
    }
    dir = dirname(dir);
  }
  return { name: 'stowage', version: '0.0.0' };
}

const found = findPackageJson();

export const PACKAGE: { name: string; version: string } = { name: found.name, version: found.version };

/** The folder holding stowage's package.json; undefined when the code runs without it. */
export const PACKAGE_ROOT: string | undefined = found.root;
