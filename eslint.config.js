// ESLint (npm run lint): typescript-eslint's recommended rules (syntax only, no type information:
// fast on two cores, and `npm run typecheck` does the type checking) and no import cycle anywhere.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';
import noImportCycle from './scripts/lint/import-cycles.js';

// The layers: server -> auth, notifications, proxy -> storage -> errors; nothing climbs back up.
// Storage's keys, drivers, liveness protocol and GC lease are its own: everything above goes
// through RegistryStorage, the Repository interface (storage/repository.ts) and storage/jobs/.
const STORAGE_PRIVATE = [
  {
    regex: 'storage/(layout|liveness|drivers/|jobs/gc-lease)',
    message: 'storage/layout, the drivers, the liveness protocol and the GC lease are private to storage/',
  },
];
const SERVER_IS_ON_TOP = { regex: '^(\\.\\./)+server/', message: 'server/ is the top layer: nothing below imports it' };

export default defineConfig(
  { ignores: ['dist/', 'data/', '.e2e/', 'bench/out/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        // Node's, for the few JavaScript files (TypeScript files get them from @types/node).
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
      },
    },
    plugins: { 'import-x': importX, stowage: { rules: { 'no-import-cycle': noImportCycle } } },
    settings: {
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.mts'] },
      // Imports name the compiled file (./x.js) of a TypeScript source (./x.ts), as NodeNext wants.
      'import-x/resolver-next': [
        createNodeResolver({
          extensions: ['.ts', '.mts', '.js', '.mjs', '.cjs', '.json', '.node'],
          extensionAlias: { '.js': ['.ts', '.js'], '.mjs': ['.mts', '.mjs'] },
        }),
      ],
    },
    rules: {
      // Cycles through value imports, which decide evaluation order at run time. Packages are not
      // followed: none imports us back, and parsing them is 90% of the rule's time.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      // import-x/no-cycle skips `import type` and has no option to count it; this rule counts it.
      'stowage/no-import-cycle': 'error',
      // A leading underscore marks a parameter or binding kept for its position or to drop it from a rest.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // Matching control characters is deliberate here: they are what header and name checks strip or refuse.
      'no-control-regex': 'off',
    },
  },
  {
    files: ['server/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: STORAGE_PRIVATE }] },
  },
  {
    files: ['proxy/**/*.ts', 'notifications/**/*.ts', 'auth/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [...STORAGE_PRIVATE, SERVER_IS_ON_TOP] }] },
  },
  {
    files: ['storage/**/*.ts', 'errors/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^(\\.\\./)+(server|auth|proxy|notifications)/', message: 'storage/ does not import the layers above it' }] },
      ],
    },
  },
  {
    // CommonJS on purpose (test/helpers/s3rver-fixes.cjs is loaded by node from the shell e2e too).
    files: ['**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
