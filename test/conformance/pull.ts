// Port of conformance/01_pull_test.go (opencontainers/distribution-spec 47008ca), check by check.
// Each `it` names the Go spec it ports; requests, headers, bodies and accepted statuses are the
// suite's. SkipIfDisabled(pull) and RunOnlyIf(<setup option>) decide what is registered at all.
import { describe, expect, it } from 'vitest';
import { expectStatus, type SuiteContext } from './suite-context.js';
import { ERROR_CODES_KNOWN_TO_SUITE, TEST_TAG_NAME } from './test-data.js';

export function pullWorkflow(suite: SuiteContext): void {
  const { options, data } = suite;
  const { configs, manifests } = data;
  if (!options.workflows.pull) return; // SkipIfDisabled(pull)

  describe('Pull', () => {
    let tag = '';

    describe('Setup', () => {
      if (options.runPullSetup) {
        // 01_pull_test.go Setup "Populate registry with test blob" (configs[0])
        it('Populate registry with test blob (configs[0])', async () => {
          const { client } = suite;
          const resp = await client.postThenPutBlob(configs[0].digest, configs[0].contentLength, configs[0].content);
          expectStatus(resp, '2xx');
        });

        // 01_pull_test.go Setup "Populate registry with test blob" (configs[1])
        it('Populate registry with test blob (configs[1])', async () => {
          const { client } = suite;
          const resp = await client.postThenPutBlob(configs[1].digest, configs[1].contentLength, configs[1].content);
          expectStatus(resp, '2xx');
        });

        // 01_pull_test.go Setup "Populate registry with test layer"
        it('Populate registry with test layer', async () => {
          const { client } = suite;
          const resp = await client.postThenPutBlob(data.layerBlobDigest, data.layerBlobContentLength, data.layerBlobData);
          expectStatus(resp, '2xx');
        });

        // 01_pull_test.go Setup "Populate registry with test manifest" (manifests[0] by tag)
        it('Populate registry with test manifest (manifests[0] as tagtest0)', async () => {
          const { client } = suite;
          tag = TEST_TAG_NAME;
          const resp = await client.do(
            client
              .newRequest('PUT', '/v2/<name>/manifests/<reference>', { reference: tag })
              .setHeader('Content-Type', 'application/vnd.oci.image.manifest.v1+json')
              .setBody(manifests[0].content),
          );
          expectStatus(resp, '2xx');
        });

        // 01_pull_test.go Setup "Populate registry with test manifest" (manifests[1] by digest)
        it('Populate registry with test manifest (manifests[1] by digest)', async () => {
          const { client } = suite;
          const resp = await client.do(
            client
              .newRequest('PUT', '/v2/<name>/manifests/<reference>', { reference: manifests[1].digest })
              .setHeader('Content-Type', 'application/vnd.oci.image.manifest.v1+json')
              .setBody(manifests[1].content),
          );
          expectStatus(resp, '2xx');
        });
      } else {
        // 01_pull_test.go Setup "Get tag name from environment" (RunOnlyIfNot(runPullSetup))
        it('Get tag name from environment', () => {
          if (options.tagName) tag = options.tagName;
          expect(tag).not.toBe('');
        });
      }
    });

    describe('Pull blobs', () => {
      // 01_pull_test.go "HEAD request to nonexistent blob should result in 404 response"
      it('HEAD request to nonexistent blob should result in 404 response', async () => {
        const { client } = suite;
        const resp = await client.do(client.newRequest('HEAD', '/v2/<name>/blobs/<digest>', { digest: data.dummyDigest }));
        expectStatus(resp, 404);
      });

      // 01_pull_test.go "HEAD request to existing blob should yield 200"
      it('HEAD request to existing blob should yield 200', async () => {
        const { client } = suite;
        const resp = await client.do(client.newRequest('HEAD', '/v2/<name>/blobs/<digest>', { digest: configs[0].digest }));
        expectStatus(resp, 200);
        const h = resp.header('Docker-Content-Digest');
        if (h !== '') expect(h).toBe(configs[0].digest);
      });

      // 01_pull_test.go "GET nonexistent blob should result in 404 response"
      it('GET nonexistent blob should result in 404 response', async () => {
        const { client } = suite;
        const resp = await client.do(client.newRequest('GET', '/v2/<name>/blobs/<digest>', { digest: data.dummyDigest }));
        expectStatus(resp, 404);
      });

      // 01_pull_test.go "GET request to existing blob URL should yield 200"
      it('GET request to existing blob URL should yield 200', async () => {
        const { client } = suite;
        const resp = await client.do(client.newRequest('GET', '/v2/<name>/blobs/<digest>', { digest: configs[0].digest }));
        expectStatus(resp, 200);
      });
    });

    describe('Pull manifests', () => {
      // 01_pull_test.go "HEAD request to nonexistent manifest should return 404"
      it('HEAD request to nonexistent manifest should return 404', async () => {
        const { client } = suite;
        const resp = await client.do(client.newRequest('HEAD', '/v2/<name>/manifests/<reference>', { reference: data.nonexistentManifest }));
        expectStatus(resp, 404);
      });

      for (const i of [0, 1]) {
        // 01_pull_test.go "HEAD request to manifest[0] path (digest) should yield 200 response" (and [1])
        it(`HEAD request to manifest[${i}] path (digest) should yield 200 response`, async () => {
          const { client } = suite;
          const resp = await client.do(
            client
              .newRequest('HEAD', '/v2/<name>/manifests/<digest>', { digest: manifests[i].digest })
              .setHeader('Accept', 'application/vnd.oci.image.manifest.v1+json'),
          );
          expectStatus(resp, 200);
          const h = resp.header('Docker-Content-Digest');
          if (h !== '') expect(h).toBe(manifests[i].digest);
        });
      }

      // 01_pull_test.go "HEAD request to manifest path (tag) should yield 200 response"
      it('HEAD request to manifest path (tag) should yield 200 response', async () => {
        const { client } = suite;
        expect(tag).not.toBe('');
        const resp = await client.do(
          client
            .newRequest('HEAD', '/v2/<name>/manifests/<reference>', { reference: tag })
            .setHeader('Accept', 'application/vnd.oci.image.manifest.v1+json'),
        );
        expectStatus(resp, 200);
        const h = resp.header('Docker-Content-Digest');
        if (h !== '') expect(h).toBe(manifests[0].digest);
      });

      // 01_pull_test.go "GET nonexistent manifest should return 404"
      it('GET nonexistent manifest should return 404', async () => {
        const { client } = suite;
        const resp = await client.do(client.newRequest('GET', '/v2/<name>/manifests/<reference>', { reference: data.nonexistentManifest }));
        expectStatus(resp, 404);
      });

      for (const i of [0, 1]) {
        // 01_pull_test.go "GET request to manifest[0] path (digest) should yield 200 response" (and [1])
        it(`GET request to manifest[${i}] path (digest) should yield 200 response`, async () => {
          const { client } = suite;
          const resp = await client.do(
            client
              .newRequest('GET', '/v2/<name>/manifests/<digest>', { digest: manifests[i].digest })
              .setHeader('Accept', 'application/vnd.oci.image.manifest.v1+json'),
          );
          expectStatus(resp, 200);
        });
      }

      // 01_pull_test.go "GET request to manifest path (tag) should yield 200 response"
      it('GET request to manifest path (tag) should yield 200 response', async () => {
        const { client } = suite;
        expect(tag).not.toBe('');
        const resp = await client.do(
          client
            .newRequest('GET', '/v2/<name>/manifests/<reference>', { reference: tag })
            .setHeader('Accept', 'application/vnd.oci.image.manifest.v1+json'),
        );
        expectStatus(resp, 200);
      });
    });

    describe('Error codes', () => {
      // 01_pull_test.go "400 response body should contain OCI-conforming JSON message"
      it('400 response body should contain OCI-conforming JSON message', async () => {
        const { client } = suite;
        const resp = await client.do(
          client
            .newRequest('GET', '/v2/<name>/manifests/<reference>', { reference: 'sha256:totallywrong' })
            .setHeader('Content-Type', 'application/vnd.oci.image.manifest.v1+json')
            .setBody(data.invalidManifestContent),
        );
        expectStatus(resp, 400, 404);
        if (resp.status === 400) {
          const errors = resp.errors();
          expect(errors).not.toHaveLength(0);
          expect(ERROR_CODES_KNOWN_TO_SUITE).toContain(errors[0].code);
        }
      });
    });

    // every teardown spec is RunOnlyIf(runPullSetup)
    if (options.runPullSetup)
      describe('Teardown', () => {
        const deleteManifests = () => {
          for (const i of [0, 1]) {
            // 01_pull_test.go Teardown "Delete manifest[0] created in setup" (and [1])
            it(`Delete manifest[${i}] created in setup`, async () => {
              const { client } = suite;
              const resp = await client.do(client.newRequest('DELETE', '/v2/<name>/manifests/<digest>', { digest: manifests[i].digest }));
              expectStatus(resp, '2xx', 405);
            });
          }
        };
        if (options.deleteManifestBeforeBlobs) deleteManifests();

        for (const i of [0, 1]) {
          // 01_pull_test.go Teardown "Delete config[0] blob created in setup" (and [1])
          it(`Delete config[${i}] blob created in setup`, async () => {
            const { client } = suite;
            const resp = await client.do(client.newRequest('DELETE', '/v2/<name>/blobs/<digest>', { digest: configs[i].digest }));
            expectStatus(resp, '2xx', 404, 405);
          });
        }

        // 01_pull_test.go Teardown "Delete layer blob created in setup"
        it('Delete layer blob created in setup', async () => {
          const { client } = suite;
          const resp = await client.do(client.newRequest('DELETE', '/v2/<name>/blobs/<digest>', { digest: data.layerBlobDigest }));
          expectStatus(resp, '2xx', 404, 405);
        });

        if (!options.deleteManifestBeforeBlobs) deleteManifests();
      });
  });
}
