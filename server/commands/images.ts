// `stowage retag`: links an image under another name, working on storage directly (safe while
// the server runs). The views (`ls`, `du`, `tags`) read the JSON API instead: listings.ts.
import type { RegistryStorage } from '../../storage/registry.js';
import { parseImageReference, retag } from '../../storage/jobs/retag.js';
import { commandOrigin } from './audit.js';

type Print = (line: string) => void;

export async function retagCommand(storage: RegistryStorage, source: string, destination: string, json: boolean, print: Print): Promise<void> {
  const src = parseImageReference(source);
  const dst = parseImageReference(destination);
  const result = await retag(storage, src, dst, commandOrigin());
  if (json) return print(JSON.stringify({ source, destination, ...result }));
  const target = dst.reference
    ? `${dst.name}:${dst.reference}`
    : src.reference && !src.reference.includes(':')
      ? `${dst.name}:${src.reference}`
      : `${dst.name}@${result.digest}`;
  print(`${target} -> ${result.digest} (${result.manifests} manifests, ${result.blobs} blobs linked, no bytes copied)`);
  for (const digest of result.missing) print(`warning: the source does not hold ${digest}; not linked`);
}
