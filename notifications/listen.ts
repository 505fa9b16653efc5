// Webhook events from what a repository did, not from what an HTTP answer looked like: a decorator
// around a Repository (storage/repository.ts), after Distribution's notifications.Listen. Each
// successful pull, push, mount or delete hands one event to the sink; failures hand none.
// Pulls: a manifest GET (not a HEAD: stat is not a pull), a blob's bytes copied out, or a
// proxied blob opened while it arrives. A redirect hands the client a URL and is no pull here.
import { isDigestReference } from '../storage/grammar.js';
import type { OpenedBlob, Repository, RepositoryBlobs, RepositoryManifests, RepositoryUploads } from '../storage/repository.js';
import type { EventTarget, RegistryEvent } from './events.js';

const BLOB_MEDIA_TYPE = 'application/octet-stream';

export type EventDraft = Pick<RegistryEvent, 'action' | 'target'>;

/** Receives the events of one request (notifications/notifier.ts adds who asked and when). */
export type EventSink = (draft: EventDraft) => void;

export function listen(repository: Repository, sink: EventSink): Repository {
  const name = repository.name;
  const manifestUrl = (digest: string) => `/v2/${name}/manifests/${digest}`;
  const blobUrl = (digest: string) => `/v2/${name}/blobs/${digest}`;
  const tagOf = (reference: string) => (isDigestReference(reference) ? undefined : reference);
  const blobPush = (digest: string): EventTarget => ({ repository: name, digest, mediaType: BLOB_MEDIA_TYPE, url: blobUrl(digest) });
  const blobPull = (digest: string, length: number): EventTarget => ({
    repository: name,
    digest,
    mediaType: BLOB_MEDIA_TYPE,
    size: length,
    length,
    url: blobUrl(digest),
  });

  const { blobs, uploads, manifests } = repository;
  const listeningBlobs: RepositoryBlobs = {
    stat: (digest) => blobs.stat(digest),
    redirectURL: (digest) => blobs.redirectURL(digest),
    async open(digest): Promise<OpenedBlob> {
      const opened = await blobs.open(digest);
      // Stored bytes are a pull when copied out (copyTo); arriving ones are one now.
      if (!opened.stored) sink({ action: 'pull', target: blobPull(digest, opened.size ?? 0) });
      return opened;
    },
    async copyTo(digest, destination, range) {
      const copied = await blobs.copyTo(digest, destination, range);
      sink({ action: 'pull', target: blobPull(digest, copied) });
      return copied;
    },
    async mount(from, digest) {
      const mounted = await blobs.mount(from, digest);
      if (mounted) sink({ action: 'mount', target: { ...blobPush(digest), fromRepository: from } });
      return mounted;
    },
    async delete(digest) {
      await blobs.delete(digest);
      sink({ action: 'delete', target: { repository: name, digest } });
    },
  };
  const listeningUploads: RepositoryUploads = {
    start: (options) => uploads.start(options),
    status: (id) => uploads.status(id),
    append: (id, source, options) => uploads.append(id, source, options),
    cancel: (id) => uploads.cancel(id),
    async finish(id, digest, source, options) {
      const blob = await uploads.finish(id, digest, source, options);
      sink({ action: 'push', target: blobPush(blob.digest) });
      return blob;
    },
    async putMonolithic(digest, source, signal) {
      const blob = await uploads.putMonolithic(digest, source, signal);
      sink({ action: 'push', target: blobPush(blob.digest) });
      return blob;
    },
  };
  const listeningManifests: RepositoryManifests = {
    stat: (reference) => manifests.stat(reference),
    async get(reference) {
      const manifest = await manifests.get(reference);
      const size = manifest.bytes.length;
      sink({
        action: 'pull',
        target: {
          repository: name,
          digest: manifest.digest,
          tag: tagOf(reference),
          mediaType: manifest.mediaType,
          size,
          length: size,
          url: manifestUrl(manifest.digest),
        },
      });
      return manifest;
    },
    async put(reference, bytes, contentType, options) {
      const result = await manifests.put(reference, bytes, contentType, options);
      // One event per tag the push set (the reference's and each ?tag=), as a push of each would send.
      const tags = [tagOf(reference), ...(options?.tags ?? [])].filter((tag) => tag !== undefined);
      for (const tag of tags.length > 0 ? tags : [undefined]) {
        sink({
          action: 'push',
          target: {
            repository: name,
            digest: result.digest,
            tag,
            mediaType: contentType,
            size: bytes.length,
            length: bytes.length,
            url: manifestUrl(result.digest),
          },
        });
      }
      return result;
    },
    async delete(reference) {
      await manifests.delete(reference);
      const tag = tagOf(reference);
      sink({ action: 'delete', target: { repository: name, digest: tag ? undefined : reference, tag } });
    },
  };
  return {
    name,
    blobs: listeningBlobs,
    uploads: listeningUploads,
    manifests: listeningManifests,
    tags: repository.tags,
    referrers: repository.referrers,
  };
}
