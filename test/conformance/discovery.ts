// Port of conformance/03_discovery_test.go (opencontainers/distribution-spec b5f09eb), check by
// check: tag listing with n and last, and the referrers API (empty answer for an unknown digest,
// five referrers of manifests[4] with their annotations, the artifactType filter, and a referrer
// whose subject was never pushed), then teardown in the OCI_DELETE_MANIFEST_BEFORE_BLOBS order.
import { describe, expect, it } from 'vitest';
import { expectStatus, type SuiteContext } from './suite-context.js';
import type { ConformanceRequest, ConformanceResponse } from './registry-client.js';
import { ARTIFACT_TYPE_FILTER, TEST_TAG_NAME } from './test-data.js';

interface TagList {
  name?: string;
  tags?: string[];
}

interface IndexBody {
  manifests?: Array<{ digest: string; annotations?: Record<string, string> }>;
}

/** setup.go getTagList: the tags of a tags/list answer, or [] when it does not parse. */
function getTagList(resp: ConformanceResponse): string[] {
  try {
    return resp.json<TagList>().tags ?? [];
  } catch {
    return [];
  }
}

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

export function discoveryWorkflow(suite: SuiteContext): void {
  const { options, data } = suite;
  const { configs, manifests } = data;
  if (!options.workflows.contentDiscovery) return; // SkipIfDisabled(contentDiscovery)

  describe('Content Discovery', () => {
    let numTags = 4;
    let tagList: string[] = [];

    /** POST then PUT ?digest=, as every setup step of this file uploads a blob. */
    async function pushBlob(digest: string, length: string, content: Buffer): Promise<void> {
      const { client } = suite;
      const resp = await client.postThenPutBlob(digest, length, content);
      expectStatus(resp, '2xx');
    }

    async function pushManifest(reference: string, contentType: string, content: Buffer): Promise<ConformanceResponse> {
      const { client } = suite;
      const resp = await client.do(
        client.newRequest('PUT', '/v2/<name>/manifests/<reference>', { reference }).setHeader('Content-Type', contentType).setBody(content),
      );
      expectStatus(resp, '2xx');
      return resp;
    }

    describe('Setup', () => {
      if (options.runContentDiscoverySetup) {
        // 03_discovery_test.go Setup "Populate registry with test blob"
        it('Populate registry with test blob', async () => {
          await pushBlob(configs[2].digest, configs[2].contentLength, configs[2].content);
        });

        // 03_discovery_test.go Setup "Populate registry with test layer"
        it('Populate registry with test layer', async () => {
          await pushBlob(data.layerBlobDigest, data.layerBlobContentLength, data.layerBlobData);
        });

        // 03_discovery_test.go Setup "Populate registry with test tags"
        it('Populate registry with test tags', async () => {
          const { client } = suite;
          for (let i = 0; i < numTags; i++) {
            const tag = `test${i}`;
            tagList.push(tag);
            await pushManifest(tag, 'application/vnd.oci.image.manifest.v1+json', manifests[2].content);
          }
          const resp = await client.do(client.newRequest('GET', '/v2/<name>/tags/list'));
          tagList = getTagList(resp);
          expect(tagList.length).toBeGreaterThanOrEqual(numTags);
        });
      } else {
        // 03_discovery_test.go Setup "Populate registry with test tags (no push)"
        it('Populate registry with test tags (no push)', () => {
          tagList = (options.tagList ?? '').split(',');
          expect(tagList.length).toBeGreaterThan(0);
        });
      }

      if (options.runContentDiscoverySetup) {
        // 03_discovery_test.go Setup "References setup"
        it('References setup', async () => {
          expect(data.emptyJSONDescriptor.digest).toBe('sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
          await pushBlob(data.emptyJSONDescriptor.digest, String(data.emptyJSONDescriptor.size), data.emptyJSONBlob);
          // reference blob before the image manifest is pushed
          await pushBlob(data.testRefBlobADigest, data.testRefBlobALength, data.testRefBlobA);

          let resp = await pushManifest(
            data.refsManifestAConfigArtifactDigest,
            'application/vnd.oci.image.manifest.v1+json',
            data.refsManifestAConfigArtifactContent,
          );
          expect(resp.header('OCI-Subject')).toBe(manifests[4].digest);
          resp = await pushManifest(
            data.refsManifestALayerArtifactDigest,
            'application/vnd.oci.image.manifest.v1+json',
            data.refsManifestALayerArtifactContent,
          );
          expect(resp.header('OCI-Subject')).toBe(manifests[4].digest);
          resp = await pushManifest(data.refsIndexArtifactDigest, OCI_INDEX, data.refsIndexArtifactContent);
          expect(resp.header('OCI-Subject')).toBe(manifests[4].digest);

          await pushBlob(configs[4].digest, configs[4].contentLength, configs[4].content);
          await pushBlob(data.layerBlobDigest, data.layerBlobContentLength, data.layerBlobData);
          await pushManifest(TEST_TAG_NAME, 'application/vnd.oci.image.manifest.v1+json', manifests[4].content);

          // reference blob after the image manifest is pushed
          await pushBlob(data.testRefBlobBDigest, data.testRefBlobBLength, data.testRefBlobB);
          resp = await pushManifest(
            data.refsManifestBConfigArtifactDigest,
            'application/vnd.oci.image.manifest.v1+json',
            data.refsManifestBConfigArtifactContent,
          );
          expect(resp.header('OCI-Subject')).toBe(manifests[4].digest);
          resp = await pushManifest(
            data.refsManifestBLayerArtifactDigest,
            'application/vnd.oci.image.manifest.v1+json',
            data.refsManifestBLayerArtifactContent,
          );
          expect(resp.header('OCI-Subject')).toBe(manifests[4].digest);
          // a referrer whose subject was never pushed
          resp = await pushManifest(
            data.refsManifestCLayerArtifactDigest,
            'application/vnd.oci.image.manifest.v1+json',
            data.refsManifestCLayerArtifactContent,
          );
          expect(resp.header('OCI-Subject')).toBe(manifests[3].digest);
        });
      }
    });

    describe('Test content discovery endpoints (listing tags)', () => {
      // 03_discovery_test.go "GET request to list tags should yield 200 response"
      it('GET request to list tags should yield 200 response', async () => {
        const { client } = suite;
        const resp = await client.do(client.newRequest('GET', '/v2/<name>/tags/list'));
        expectStatus(resp, 200);
        tagList = getTagList(resp);
        numTags = tagList.length;
      });

      // 03_discovery_test.go "GET number of tags should be limitable by `n` query parameter"
      it('GET number of tags should be limitable by `n` query parameter', async () => {
        const { client } = suite;
        const numResults = Math.trunc(numTags / 2);
        const resp = await client.do(client.newRequest('GET', '/v2/<name>/tags/list').setQueryParam('n', String(numResults)));
        expectStatus(resp, 200);
        tagList = getTagList(resp);
        expect(tagList.length).toBe(numResults);
      });

      // 03_discovery_test.go "GET start of tag is set by `last` query parameter"
      // (as in Go, the assertions read the first page: the second answer's status is what is checked)
      it('GET start of tag is set by `last` query parameter', async () => {
        const { client } = suite;
        const numResults = Math.trunc(numTags / 2);
        let resp = await client.do(client.newRequest('GET', '/v2/<name>/tags/list').setQueryParam('n', String(numResults)));
        tagList = getTagList(resp);
        resp = await client.do(
          client
            .newRequest('GET', '/v2/<name>/tags/list')
            .setQueryParam('n', String(numResults))
            .setQueryParam('last', tagList[numResults - 1]),
        );
        expectStatus(resp, 200);
        expect(tagList.length).toBeLessThanOrEqual(numResults);
        expect(tagList).toContain(tagList[numResults - 1]);
      });
    });

    describe('Test content discovery endpoints (listing references)', () => {
      const checkAnnotations = (index: IndexBody) => {
        for (const m of index.manifests ?? []) {
          expect(Object.keys(m.annotations ?? {})).toHaveLength(1);
          expect(m.annotations?.[data.testAnnotationKey]).toBe(data.testAnnotationValues[m.digest]);
        }
      };

      // 03_discovery_test.go "GET request to nonexistent blob should result in empty 200 response"
      it('GET request to nonexistent blob should result in empty 200 response', async () => {
        const { client } = suite;
        const resp = await client.do(client.newRequest('GET', '/v2/<name>/referrers/<digest>', { digest: data.dummyDigest }));
        expectStatus(resp, 200);
        expect(resp.header('Content-Type')).toBe(OCI_INDEX);
        expect(resp.json<IndexBody>().manifests ?? []).toHaveLength(0);
      });

      // 03_discovery_test.go "GET request to existing blob should yield 200"
      it('GET request to existing blob should yield 200', async () => {
        const { client } = suite;
        const resp = await client.do(client.newRequest('GET', '/v2/<name>/referrers/<digest>', { digest: manifests[4].digest }));
        expectStatus(resp, 200);
        expect(resp.header('Content-Type')).toBe(OCI_INDEX);
        const index = resp.json<IndexBody>();
        expect(index.manifests).toHaveLength(5);
        expect(index.manifests?.[0].digest).not.toBe(index.manifests?.[1].digest);
        checkAnnotations(index);
      });

      // 03_discovery_test.go "GET request to existing blob with filter should yield 200"
      it('GET request to existing blob with filter should yield 200', async () => {
        const { client } = suite;
        const resp = await client.do(
          client
            .newRequest('GET', '/v2/<name>/referrers/<digest>', { digest: manifests[4].digest })
            .setQueryParam('artifactType', data.testRefArtifactTypeA),
        );
        expectStatus(resp, 200);
        expect(resp.header('Content-Type')).toBe(OCI_INDEX);
        const index = resp.json<IndexBody>();
        // Go accepts an unfiltered answer of 5 (with a warning) when OCI-Filters-Applied is absent;
        // stowage filters, so the filtered branch is the one that must hold.
        expect(resp.header('OCI-Filters-Applied')).toBe(ARTIFACT_TYPE_FILTER);
        expect(index.manifests).toHaveLength(2);
        checkAnnotations(index);
      });

      // 03_discovery_test.go "GET request to missing manifest should yield 200"
      it('GET request to missing manifest should yield 200', async () => {
        const { client } = suite;
        const resp = await client.do(client.newRequest('GET', '/v2/<name>/referrers/<digest>', { digest: manifests[3].digest }));
        expectStatus(resp, 200);
        expect(resp.header('Content-Type')).toBe(OCI_INDEX);
        const index = resp.json<IndexBody>();
        expect(index.manifests).toHaveLength(1);
        expect(index.manifests?.[0].digest).toBe(data.refsManifestCLayerArtifactDigest);
      });
    });

    // every teardown spec is RunOnlyIf(runContentDiscoverySetup)
    if (options.runContentDiscoverySetup)
      describe('Teardown', () => {
        const expectDeleted = async (req: ConformanceRequest) => {
          const resp = await suite.client.do(req);
          expectStatus(resp, '2xx', 405, 404);
        };
        const deleteManifestsAndTags = () => {
          // 03_discovery_test.go Teardown "Delete created manifest & associated tags"
          it('Delete created manifest & associated tags', async () => {
            const { client } = suite;
            const references = [
              data.refsIndexArtifactDigest,
              manifests[2].digest,
              manifests[4].digest,
              data.refsManifestAConfigArtifactDigest,
              data.refsManifestALayerArtifactDigest,
              TEST_TAG_NAME,
              data.refsManifestBConfigArtifactDigest,
              data.refsManifestBLayerArtifactDigest,
              data.refsManifestCLayerArtifactDigest,
            ];
            for (const ref of references) {
              await expectDeleted(client.newRequest('DELETE', '/v2/<name>/manifests/<digest>', { digest: ref }));
            }
          });
        };
        if (options.deleteManifestBeforeBlobs) deleteManifestsAndTags();

        // 03_discovery_test.go Teardown "Delete config blob created in tests" (no 404 accepted)
        it('Delete config blob created in tests', async () => {
          const { client } = suite;
          const resp = await client.do(client.newRequest('DELETE', '/v2/<name>/blobs/<digest>', { digest: configs[2].digest }));
          expectStatus(resp, '2xx', 405);
        });

        // 03_discovery_test.go Teardown "Delete layer blob created in setup" (no 404 accepted)
        it('Delete layer blob created in setup', async () => {
          const { client } = suite;
          const resp = await client.do(client.newRequest('DELETE', '/v2/<name>/blobs/<digest>', { digest: data.layerBlobDigest }));
          expectStatus(resp, '2xx', 405);
        });

        if (!options.deleteManifestBeforeBlobs) deleteManifestsAndTags();

        // 03_discovery_test.go Teardown "References teardown"
        it('References teardown', async () => {
          const { client } = suite;
          const deleteReferrerManifests = async () => {
            await expectDeleted(client.newRequest('DELETE', '/v2/<name>/manifests/<reference>', { reference: data.refsIndexArtifactDigest }));
            await expectDeleted(
              client.newRequest('DELETE', '/v2/<name>/manifests/<reference>', { reference: data.refsManifestAConfigArtifactDigest }),
            );
            await expectDeleted(
              client.newRequest('DELETE', '/v2/<name>/manifests/<reference>', { reference: data.refsManifestALayerArtifactDigest }),
            );
            await expectDeleted(client.newRequest('DELETE', '/v2/<name>/manifests/<digest>', { digest: manifests[4].digest }));
            await expectDeleted(
              client.newRequest('DELETE', '/v2/<name>/manifests/<reference>', { reference: data.refsManifestBConfigArtifactDigest }),
            );
            await expectDeleted(
              client.newRequest('DELETE', '/v2/<name>/manifests/<reference>', { reference: data.refsManifestBLayerArtifactDigest }),
            );
          };
          if (options.deleteManifestBeforeBlobs) await deleteReferrerManifests();
          await expectDeleted(client.newRequest('DELETE', '/v2/<name>/blobs/<digest>', { digest: configs[4].digest }));
          await expectDeleted(client.newRequest('DELETE', '/v2/<name>/blobs/<digest>', { digest: data.testRefBlobADigest }));
          await expectDeleted(client.newRequest('DELETE', '/v2/<name>/blobs/<digest>', { digest: data.testRefBlobBDigest }));
          await expectDeleted(client.newRequest('DELETE', '/v2/<name>/blobs/<digest>', { digest: data.emptyJSONDescriptor.digest }));
          if (!options.deleteManifestBeforeBlobs) await deleteReferrerManifests();
        });
      });
  });
}
