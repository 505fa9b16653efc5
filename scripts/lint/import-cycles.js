// ESLint rule stowage/no-import-cycle: no import cycle, counting `import type`.
// Why a rule of our own: import-x/no-cycle skips type-only imports by design and has no option to
// count them, but issue 13 wants no cycle at all (a type-only cycle still ties two modules'
// contracts together). This one follows every relative import TypeScript's preProcessFile finds
// (import, import type, export ... from, import(), require) through the files on disk.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import ts from 'typescript';

/** file -> its local imports, kept while the file's mtime holds (editors keep ESLint running). */
const cache = new Map();

/** The file a relative specifier names: `./x.js` is `./x.ts` when that exists (NodeNext style). */
function resolveImport(from, specifier) {
  if (!specifier.startsWith('.')) return undefined;
  const target = resolve(dirname(from), specifier);
  const candidates = [target.replace(/\.js$/, '.ts').replace(/\.mjs$/, '.mts'), target];
  return candidates.find((candidate) => existsSync(candidate) && statSync(candidate).isFile());
}

function importsOf(file) {
  const { mtimeMs } = statSync(file);
  const hit = cache.get(file);
  if (hit?.mtimeMs === mtimeMs) return hit.imports;
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  const imports = [...new Set(importedFiles.map((i) => resolveImport(file, i.fileName)).filter(Boolean))];
  cache.set(file, { mtimeMs, imports });
  return imports;
}

/** Every module from which `file` can be reached again: the files whose import is a cycle. */
function modulesLeadingBack(file) {
  const importersOf = new Map();
  const seen = new Set([file]);
  const queue = [file];
  while (queue.length > 0) {
    const current = queue.shift();
    for (const next of importsOf(current)) {
      if (!importersOf.has(next)) importersOf.set(next, []);
      importersOf.get(next).push(current);
      if (!seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  const back = new Set();
  const pending = [...(importersOf.get(file) ?? [])];
  while (pending.length > 0) {
    const current = pending.pop();
    if (back.has(current)) continue;
    back.add(current);
    pending.push(...(importersOf.get(current) ?? []));
  }
  return back;
}

/** The shortest chain of imports from `start` to `file`, through modules that lead back. */
function chain(start, file, back) {
  const previous = new Map([[start, undefined]]);
  const queue = [start];
  while (queue.length > 0) {
    const current = queue.shift();
    for (const next of importsOf(current)) {
      if (next === file) {
        const route = [file];
        for (let at = current; at !== undefined; at = previous.get(at)) route.splice(1, 0, at);
        return [...route, file];
      }
      if (back.has(next) && !previous.has(next)) {
        previous.set(next, current);
        queue.push(next);
      }
    }
  }
  return [file, start, file];
}

export default {
  meta: {
    type: 'problem',
    docs: { description: 'Forbid import cycles, type-only imports included' },
    schema: [],
    messages: { cycle: 'Import cycle (type-only imports count): {{route}}' },
  },
  create(context) {
    const file = context.physicalFilename;
    if (!existsSync(file)) return {};
    let back;
    const check = (node, source) => {
      if (source?.type !== 'Literal' || typeof source.value !== 'string') return;
      const target = resolveImport(file, source.value);
      if (!target || target === file) return;
      back ??= modulesLeadingBack(file);
      if (!back.has(target)) return;
      const route = chain(target, file, back)
        .map((f) => relative(context.cwd, f))
        .join(' -> ');
      context.report({ node, messageId: 'cycle', data: { route } });
    };
    return {
      ImportDeclaration: (node) => check(node, node.source),
      ExportNamedDeclaration: (node) => check(node, node.source),
      ExportAllDeclaration: (node) => check(node, node.source),
      ImportExpression: (node) => check(node, node.source),
      TSImportEqualsDeclaration: (node) => check(node, node.moduleReference.expression),
    };
  },
};
