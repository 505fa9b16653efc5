#!/usr/bin/env node
// dist/stowage.mjs: starts the bundled server (dist/stowage-main.cjs, scripts/bundle.mjs) from V8's
// code cache when it has one. Compiling the 2.8 MB bundle was over half of start-up; with the
// cache V8 skips parsing it. The cache is written at build time (STOWAGE_WRITE_CODE_CACHE=1, run
// by scripts/bundle.mjs) and carries the bundle's build id, so a cache of another build is never
// used; V8 refuses one made by another V8 or with other flags, and then the bundle is compiled as
// usual. V8 does not check the bytes themselves (damaged cached data aborts the process), so the
// header carries their SHA-1 too, checked first (about 1 ms). Nothing is written at run time (the
// container's file system is read-only).
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const dir = dirname(fileURLToPath(import.meta.url));
const file = join(dir, 'stowage-main.cjs');
const cacheFile = `${file}.cache`;
const source = readFileSync(file, 'utf8');
// The build id is the bundle's last line: "//# stowageBuild=<sha256 of the rest>".
const build = source.slice(source.lastIndexOf('\n') + 1);
const sha1 = (bytes) => createHash('sha1').update(bytes).digest('hex');

// The cache file: "<build id line> <sha1 of the data>\n" then V8's data.
let cachedData;
try {
  const cache = readFileSync(cacheFile);
  const end = cache.indexOf(10);
  const header = cache.subarray(0, end).toString('latin1');
  const data = cache.subarray(end + 1);
  if (header === `${build} ${sha1(data)}`) cachedData = data;
} catch {
  // No cache: compile as usual.
}

const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
  filename: file,
  cachedData,
});

if (process.env.STOWAGE_WRITE_CODE_CACHE === '1') {
  const data = script.createCachedData();
  writeFileSync(`${cacheFile}.tmp`, Buffer.concat([Buffer.from(`${build} ${sha1(data)}\n`, 'latin1'), data]));
  renameSync(`${cacheFile}.tmp`, cacheFile);
} else {
  if (process.env.STOWAGE_CODE_CACHE_REPORT === '1') {
    process.stderr.write(`code cache: ${cachedData === undefined ? 'none' : script.cachedDataRejected ? 'rejected' : 'used'}\n`);
  }
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, file, dir);
}
