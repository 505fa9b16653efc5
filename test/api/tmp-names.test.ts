// Names and tags that contain ".tmp-" are as valid as any other (the grammar allows them), so
// they must list and survive garbage collection like any other; the filesystem driver once
// took them for its own temporary files and hid them. It now keeps them in _tmp/, but data
// directories written before that may still hold "<file>.tmp-<hex>" files beside the objects;
// they must not break listings, referrers, garbage collection or scrub.
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DRIVERS, filesystemDriverFactory } from '../helpers/drivers.js';
import { useTestRegistry } from '../helpers/test-registry.js';
import { asBytes } from '../helpers/registry-client.js';
import { pushBlob, pushImage, pushManifest } from '../helpers/images.js';
import { blobOf, EMPTY_CONFIG, ociArtifact, randomBlob } from '../helpers/content.js';
import { collectGarbage } from '../../storage/jobs/gc.js';
import { scrubBlobs } from '../../storage/jobs/scrub.js';
import { registryUsage } from '../../storage/jobs/usage.js';
import { blobDirKey, layerLinkKey, manifestRevisionKey, referrerKey, tagCurrentLinkKey } from '../../storage/layout.js';

describe.each(DRIVERS)('names and tags containing ".tmp-" on $name', (factory) => {
  const registry = useTestRegistry(factory);

  it('lists the repository and the tag, and garbage collection keeps their content', async () => {
    const reg = registry();
    const cache = await pushImage(reg, 'team/app.tmp-cache', 'v1', { seed: 31 });
    const release = await pushImage(reg, 'team/app', 'release.tmp-1', { seed: 32 });

    expect((await reg.request.get('/v2/_catalog')).body.repositories).toEqual(['team/app', 'team/app.tmp-cache']);
    expect((await reg.request.get('/v2/team/app/tags/list')).body).toEqual({ name: 'team/app', tags: ['release.tmp-1'] });
    expect((await reg.request.get('/v2/team/app.tmp-cache/tags/list')).body).toEqual({ name: 'team/app.tmp-cache', tags: ['v1'] });

    const report = await collectGarbage(reg.storage, { gracePeriodMs: 0, deleteUntagged: true });
    expect(report.blobsDeleted).toEqual([]);
    expect(report.manifestsDeleted).toEqual([]);
    for (const [name, tag, image] of [
      ['team/app.tmp-cache', 'v1', cache],
      ['team/app', 'release.tmp-1', release],
    ] as const) {
      expect((await reg.request.get(`/v2/${name}/manifests/${tag}`)).status).toBe(200);
      const layer = await asBytes(reg.request.get(`/v2/${name}/blobs/${image.layers[0].digest}`));
      expect(layer.status).toBe(200);
      expect(Buffer.compare(layer.body as Buffer, image.layers[0].bytes)).toBe(0);
    }
  });
});

describe('temporary files left beside objects by older versions (filesystem)', () => {
  const registry = useTestRegistry(filesystemDriverFactory);

  it('break no listing, referrers answer, garbage collection or scrub', async () => {
    const reg = registry();
    const image = await pushImage(reg, 'team/app', 'v1', { seed: 41 });
    const sbomBlob = blobOf('{"sbom":41}');
    for (const blob of [EMPTY_CONFIG, sbomBlob]) await pushBlob(reg, 'team/app', blob);
    const sbom = ociArtifact('application/vnd.example.sbom.v1', [sbomBlob], image.manifest.descriptor);
    await pushManifest(reg, 'team/app', sbom.digest, sbom);

    const suffix = '.tmp-0123456789ab';
    const layer = image.layers[0].digest;
    const lonely = `${blobDirKey(randomBlob(50, 42).digest)}/data${suffix}`;
    const beside = `${blobDirKey(layer)}/data${suffix}`;
    for (const key of [
      beside,
      lonely,
      `${layerLinkKey('team/app', layer)}${suffix}`,
      `${tagCurrentLinkKey('team/app', 'v1')}${suffix}`,
      `${manifestRevisionKey('team/app', image.manifest.digest)}${suffix}`,
      `${referrerKey('team/app', image.manifest.digest, sbom.digest)}${suffix}`,
    ]) {
      await fsp.mkdir(path.dirname(path.join(reg.root, key)), { recursive: true });
      await fsp.writeFile(path.join(reg.root, key), 'partial');
    }
    await reg.restart(); // nothing cached: every answer below reads the directories

    expect((await reg.request.get('/v2/_catalog')).body.repositories).toEqual(['team/app']);
    expect((await reg.request.get('/v2/team/app/tags/list')).body.tags).toEqual(['v1']);
    const referrers = await reg.request.get(`/v2/team/app/referrers/${image.manifest.digest}`);
    expect(referrers.status).toBe(200);
    expect(referrers.body.manifests.map((d: { digest: string }) => d.digest)).toEqual([sbom.digest]);
    expect((await registryUsage(reg.storage)).repositories).toMatchObject([{ name: 'team/app', tags: 1 }]);

    const gc = await collectGarbage(reg.storage, { gracePeriodMs: 0, deleteUntagged: true });
    expect(gc.blobsDeleted).toEqual([]);
    expect(gc.manifestsDeleted).toEqual([]);
    const pulled = await asBytes(reg.request.get(`/v2/team/app/blobs/${layer}`));
    expect(Buffer.compare(pulled.body as Buffer, image.layers[0].bytes)).toBe(0);

    const scrub = await scrubBlobs(reg.storage);
    expect(scrub.corrupt).toEqual([]);
    expect(scrub.leftovers.sort()).toEqual([beside, lonely].sort());
  });
});
