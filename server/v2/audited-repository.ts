// The audit log's view of a /v2 write: a Repository decorator (as notifications/listen.ts) that
// notes what the repository did (a manifest pushed, a manifest, tag or blob deleted, a blob
// mounted) once it is done; server/request-audit.ts records the notes with the caller and the
// answer's status. Only writes are wrapped: reads are not audited.
import { isDigestReference } from '../../storage/grammar.js';
import type { Repository } from '../../storage/repository.js';
import type { AuditDraft } from '../request-audit.js';

export function audited(repository: Repository, note: (draft: AuditDraft) => void): Repository {
  const name = repository.name;
  const { blobs, manifests } = repository;
  return {
    name,
    uploads: repository.uploads,
    tags: repository.tags,
    referrers: repository.referrers,
    blobs: {
      stat: (digest) => blobs.stat(digest),
      redirectURL: (digest) => blobs.redirectURL(digest),
      open: (digest) => blobs.open(digest),
      copyTo: (digest, destination, range) => blobs.copyTo(digest, destination, range),
      async mount(from, digest) {
        const mounted = await blobs.mount(from, digest);
        if (mounted) note({ action: 'mount', repository: name, digest, detail: `from ${from}` });
        return mounted;
      },
      async delete(digest) {
        await blobs.delete(digest);
        note({ action: 'delete', repository: name, digest, detail: 'blob' });
      },
    },
    manifests: {
      stat: (reference) => manifests.stat(reference),
      get: (reference) => manifests.get(reference),
      async put(reference, bytes, contentType, options) {
        const result = await manifests.put(reference, bytes, contentType, options);
        // One event per tag the push set (the reference's and each ?tag=), or one for a push by digest.
        const tags = [isDigestReference(reference) ? undefined : reference, ...(options?.tags ?? [])].filter((tag) => tag !== undefined);
        for (const tag of tags.length > 0 ? tags : [undefined]) {
          note({ action: 'push', repository: name, reference: tag, digest: result.digest, detail: contentType });
        }
        return result;
      },
      async delete(reference) {
        await manifests.delete(reference);
        const byDigest = isDigestReference(reference);
        note({
          action: 'delete',
          repository: name,
          reference: byDigest ? undefined : reference,
          digest: byDigest ? reference : undefined,
          detail: byDigest ? 'manifest' : 'tag',
        });
      },
    },
  };
}
