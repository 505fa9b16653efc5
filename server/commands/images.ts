// `stowage retag`, `tags`, `ls` and `du`: small, script-friendly views and edits of what the
// registry holds, working on storage directly (safe while the server runs).
import type { RegistryStorage } from '../../storage/registry.js';
import { parseImageReference, retag } from '../../storage/jobs/retag.js';
import { registryUsage } from '../../storage/jobs/usage.js';
import { assertName } from '../../storage/grammar.js';

type Print = (line: string) => void;

export async function retagCommand(storage: RegistryStorage, source: string, destination: string, json: boolean, print: Print): Promise<void> {
  const src = parseImageReference(source);
  const dst = parseImageReference(destination);
  const result = await retag(storage, src, dst);
  if (json) return print(JSON.stringify({ source, destination, ...result }));
  const target = dst.reference
    ? `${dst.name}:${dst.reference}`
    : src.reference && !src.reference.includes(':')
      ? `${dst.name}:${src.reference}`
      : `${dst.name}@${result.digest}`;
  print(`${target} -> ${result.digest} (${result.manifests} manifests, ${result.blobs} blobs linked, no bytes copied)`);
  for (const digest of result.missing) print(`warning: the source does not hold ${digest}; not linked`);
}

export async function tagsCommand(storage: RegistryStorage, name: string, json: boolean, print: Print): Promise<void> {
  const tags = await storage.manifests.listTags(assertName(name));
  if (json) return print(JSON.stringify(tags));
  for (const tag of tags) print(tag);
}

export async function listCommand(storage: RegistryStorage, json: boolean, print: Print): Promise<void> {
  const usage = await registryUsage(storage);
  if (json) return print(JSON.stringify(usage.repositories));
  for (const r of usage.repositories) print(`${r.name}\t${r.tags} tags\t${r.bytes} bytes`);
}

export async function diskUsageCommand(storage: RegistryStorage, json: boolean, print: Print): Promise<void> {
  const usage = await registryUsage(storage);
  const ratio = usage.storedBytes > 0 ? usage.logicalBytes / usage.storedBytes : 1;
  if (json) {
    const { repositories, ...totals } = usage;
    return print(JSON.stringify({ ...totals, repositories: repositories.length, dedupeRatio: Number(ratio.toFixed(3)) }));
  }
  print(`logical\t${usage.logicalBytes}`);
  print(`stored\t${usage.storedBytes}`);
  print(`blobs\t${usage.storedBlobs}`);
  print(`dedupe\t${ratio.toFixed(2)}x`);
}
