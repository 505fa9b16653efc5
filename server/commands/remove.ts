// `stowage rm REPO:TAG` and `stowage rm REPO@DIGEST`: what DELETE /v2/<name>/manifests/<reference>
// does, from the registry's machine, by the same rules: deletes must be enabled and the registry
// not read-only, a read-only alias and a pull-through cache refuse, an immutable tag stays.
import { RegistryError } from '../../errors/registry-error.js';
import type { RegistryStorage } from '../../storage/registry.js';
import { parseImageReference } from '../../storage/jobs/retag.js';
import { isDigestReference } from '../../storage/grammar.js';
import type { RegistryConfig } from '../config.js';
import { silentLogger } from '../logger.js';
import { proxyFromConfig } from '../proxy-from-config.js';
import { routeOptions } from '../route-options.js';
import { Aliases, refuseAliasWrite } from '../v2/aliases.js';
import { RepositoryRouter } from '../v2/name-routing.js';

type Print = (line: string) => void;

/** The image a user names: a tag or a digest is required (no "latest" by default: this deletes). */
export function parseRemoval(text: string): { name: string; reference: string } {
  const image = parseImageReference(text);
  if (!image.reference) {
    throw new RegistryError('NAME_INVALID', `name a tag or a digest: ${text}:TAG or ${text}@sha256:...`, { detail: { image: text } });
  }
  return { name: image.name, reference: image.reference };
}

export async function removeCommand(
  storage: RegistryStorage,
  config: RegistryConfig,
  text: string,
  options: { json?: boolean },
  print: Print,
): Promise<void> {
  const { name, reference } = parseRemoval(text);
  const rules = routeOptions(config);
  if (rules.readOnly) throw new RegistryError('UNSUPPORTED', 'the registry is in read-only mode (storage.maintenance.readonly)');
  if (!rules.deleteEnabled) throw new RegistryError('UNSUPPORTED', 'deletes are disabled (storage.delete.enabled)');
  const router = new RepositoryRouter(storage, proxyFromConfig(config, storage, silentLogger()), new Aliases(config.stowage.aliases));
  const routed = router.route(name);
  refuseAliasWrite(name, routed.alias);
  const repository = router.open(routed);
  // By digest the tags on it go too: name them, since they are gone with it.
  const tags = isDigestReference(reference)
    ? [...(await storage.manifests.storedTagTargets(routed.name))]
        .filter(([, digest]) => digest === reference)
        .map(([tag]) => tag)
        .sort()
    : [];
  await repository.manifests.delete(reference);
  if (options.json) return print(JSON.stringify({ deleted: text, repository: routed.name, reference, tags }));
  const also = tags.length > 0 ? ` and its tag${tags.length > 1 ? 's' : ''} ${tags.join(', ')}` : '';
  print(
    `deleted ${routed.name}${isDigestReference(reference) ? '@' : ':'}${reference}${also}; layers no image uses any more are freed by the next gc`,
  );
}
