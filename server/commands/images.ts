// `stowage retag`: links an image under another name, working on storage directly (safe while
// the server runs). The views (`ls`, `du`, `tags`) read the JSON API instead: listings.ts.
import { RegistryError } from '../../errors/registry-error.js';
import type { RegistryStorage } from '../../storage/registry.js';
import { parseImageReference, retag } from '../../storage/jobs/retag.js';
import { commandOrigin } from './audit.js';

type Print = (line: string) => void;

export async function retagCommand(
  storage: RegistryStorage,
  source: string,
  destination: string,
  options: { json?: boolean; force?: boolean },
  print: Print,
): Promise<void> {
  const json = !!options.json;
  const src = parseImageReference(source);
  const dst = parseImageReference(destination);
  let result;
  try {
    result = await retag(storage, src, dst, { force: options.force, origin: commandOrigin() });
  } catch (err) {
    if (err instanceof RegistryError) {
      // A refusal (an immutable tag, a tag that points elsewhere) is in the audit log as the API's would be.
      const refused = err.status === 403 || err.status === 409;
      storage.audit.record({
        ...commandOrigin(),
        action: 'retag',
        repository: dst.name,
        reference: dst.reference,
        result: refused ? 'denied' : 'error',
        detail: `${err.code}: ${err.message}`,
      });
      // The same refusal as the API's, worded for the command line.
      if (err.code === 'DENIED' && err.status === 409) {
        const { name, tag, current } = err.detail as { name: string; tag: string; current: string };
        throw new RegistryError('DENIED', `${name}:${tag} points at ${current}, another image; pass --force to move it`, { status: 409 });
      }
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
