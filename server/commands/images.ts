// `stowage retag`: links an image under another name, working on storage directly (safe while
// the server runs). The views (`ls`, `du`, `tags`) read the JSON API instead: listings.ts.
import type { RegistryStorage } from '../../storage/registry.js';
import { parseImageReference, retag } from '../../storage/jobs/retag.js';
import { commandOrigin } from './audit.js';
import { RegistryError } from '../../errors/registry-error.js';

type Print = (line: string) => void;

export async function retagCommand(storage: RegistryStorage, source: string, destination: string, json: boolean, print: Print): Promise<void> {
  const src = parseImageReference(source);
  const dst = parseImageReference(destination);
  let result;
  try {
    result = await retag(storage, src, dst, commandOrigin());
  } catch (err) {
    // A refusal (an immutable tag) is in the audit log as the API's would be.
    if (err instanceof RegistryError) {
      const refused = err.status === 403;
      storage.audit.record({
        ...commandOrigin(),
        action: 'retag',
        repository: dst.name,
        reference: dst.reference,
        result: refused ? 'denied' : 'error',
        detail: `${err.code}: ${err.message}`,
      });
    }
    throw err;
  }
  if (json) return print(JSON.stringify({ source, destination, ...result }));
  const target = dst.reference
    ? `${dst.name}:${dst.reference}`
    : src.reference && !src.reference.includes(':')
      ? `${dst.name}:${src.reference}`
      : `${dst.name}@${result.digest}`;
  print(`${target} -> ${result.digest} (${result.manifests} manifests, ${result.blobs} blobs linked, no bytes copied)`);
  for (const digest of result.missing) print(`warning: the source does not hold ${digest}; not linked`);
}
