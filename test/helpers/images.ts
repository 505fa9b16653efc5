// Test images: a config, layers and a manifest built from a seed, and pushed either through a
// registry's HTTP API or straight into a RegistryStorage (an upstream the proxy tests fill without
// requests they would count). pushImage checks every answer is 201; tryPushImage reports them.
import { Readable } from 'node:stream';
import { expect } from 'vitest';
import type { Response, Test } from 'supertest';
import type { RegistryStorage } from '../../storage/registry.js';
import { blobOf, dockerManifest, ociIndex, ociManifest, randomBlob, type Blob, type Manifest } from './content.js';
import { putManifest } from './registry-client.js';
import type { TestRegistry } from './test-registry.js';

/** Where content goes: a running registry (HTTP), or a storage written directly. */
export type Target = TestRegistry | RegistryStorage;

function isRegistry(target: Target): target is TestRegistry {
  return 'request' in target;
}

export interface ImageOptions {
  /** Written into the config, so images of different seeds differ; also seeds the generated layer. Default 1. */
  seed?: number;
  /** The layers, instead of one generated layer of 2048 + seed pseudo-random bytes. */
  layers?: Blob[];
  /** A Docker schema 2 manifest instead of an OCI image manifest. */
  format?: 'oci' | 'docker';
}

export interface Image {
  config: Blob;
  layers: Blob[];
  manifest: Manifest;
}

export interface PushedImage extends Image {
  name: string;
  tag: string;
}

/** An image, not pushed anywhere. */
export function buildImage(options: ImageOptions = {}): Image {
  const seed = options.seed ?? 1;
  const config = blobOf(JSON.stringify({ architecture: 'amd64', os: 'linux', seed }));
  const layers = options.layers ?? [randomBlob(2048 + seed, seed)];
  const manifest = options.format === 'docker' ? dockerManifest(config, layers) : ociManifest(config, layers);
  return { config, layers, manifest };
}

/** Pushes a blob: one POST (end-4b) checked to answer 201, or an upload straight into storage. */
export async function pushBlob(target: Target, name: string, blob: Blob): Promise<void> {
  if (!isRegistry(target)) {
    const upload = await target.uploads.start(name);
    await target.uploads.finish(name, upload.id, blob.digest, Readable.from([blob.bytes]));
    return;
  }
  const res = await target.request
    .post(`/v2/${name}/blobs/uploads/?digest=${blob.digest}`)
    .set('Content-Type', 'application/octet-stream')
    .send(blob.bytes);
  expect(res.status, `push of ${blob.digest} to ${name}: ${res.text}`).toBe(201);
}

/** Pushes a manifest under a tag or digest: a PUT (end-7) checked to answer 201, or straight into storage. */
export async function pushManifest(reg: TestRegistry, name: string, reference: string, manifest: Manifest): Promise<Response>;
export async function pushManifest(storage: RegistryStorage, name: string, reference: string, manifest: Manifest): Promise<void>;
export async function pushManifest(target: Target, name: string, reference: string, manifest: Manifest): Promise<Response | void>;
export async function pushManifest(target: Target, name: string, reference: string, manifest: Manifest): Promise<Response | void> {
  if (!isRegistry(target)) {
    await target.manifests.put(name, reference, manifest.bytes, manifest.mediaType);
    return;
  }
  const res = await putManifest(target, name, reference, manifest.bytes, manifest.mediaType);
  expect(res.status, `push of manifest ${reference} to ${name}: ${res.text}`).toBe(201);
  return res;
}

/** Pushes an image: its blobs, then its manifest under tag. */
export async function pushImage(target: Target, name: string, tag: string, options: ImageOptions = {}): Promise<PushedImage> {
  const image = buildImage(options);
  for (const blob of [image.config, ...image.layers]) await pushBlob(target, name, blob);
  await pushManifest(target, name, tag, image.manifest);
  return { name, tag, ...image };
}

/** Pushes an index of the given manifests (already in name) under tag. */
export async function pushIndex(target: Target, name: string, tag: string, children: Manifest[]): Promise<Manifest> {
  const index = ociIndex(children);
  await pushManifest(target, name, tag, index);
  return index;
}

/**
 * Pushes an image as pushImage does, with an Authorization header when given, and checks nothing:
 * the answers' statuses come back (config, layers, manifest), for tests of what is refused; layer
 * is the first layer (the only one, unless options.layers says otherwise).
 */
export async function tryPushImage(
  reg: TestRegistry,
  name: string,
  tag: string,
  options: ImageOptions & { authorization?: string } = {},
): Promise<PushedImage & { layer: Blob; statuses: number[] }> {
  const image = buildImage(options);
  const withAuth = (test: Test) => (options.authorization ? test.set('Authorization', options.authorization) : test);
  const statuses: number[] = [];
  for (const blob of [image.config, ...image.layers]) {
    const res = await withAuth(reg.request.post(`/v2/${name}/blobs/uploads/?digest=${blob.digest}`))
      .set('Content-Type', 'application/octet-stream')
      .send(blob.bytes);
    statuses.push(res.status);
  }
  statuses.push((await withAuth(putManifest(reg, name, tag, image.manifest.bytes, image.manifest.mediaType))).status);
  return { name, tag, ...image, layer: image.layers[0], statuses };
}
