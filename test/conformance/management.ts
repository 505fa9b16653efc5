// Port of conformance/04_management_test.go (opencontainers/distribution-spec 3c7a4ac), check by
// check: delete a tag, then the manifest by digest, see both gone from GET and tags/list, then
// delete the config and layer blobs and see the config gone.
import { describe, expect, it } from 'vitest';
import { expectStatus, runOnlyIf, type SuiteContext } from './suite-context.js';
import { TEST_TAG_NAME } from './test-data.js';

interface TagList {
  tags?: string[] | null;
}

export function managementWorkflow(suite: SuiteContext): void {
  const { options, data } = suite;
  const { configs, manifests } = data;
  if (!options.workflows.contentManagement) return; // SkipIfDisabled(contentManagement)

  describe('Content Management', () => {
    const defaultTagName = TEST_TAG_NAME;
    let tagToDelete = '';
    let numTags = 0;
    let blobDeleteAllowed = true;

    // every setup spec is RunOnlyIf(runContentManagementSetup)
    if (options.runContentManagementSetup)
      describe('Setup', () => {
        // 04_management_test.go Setup "Populate registry with test config blob"
        it('Populate registry with test config blob', async () => {
          const { client } = suite;
          const resp = await client.postThenPutBlob(configs[3].digest, configs[3].contentLength, configs[3].content);
          expectStatus(resp, '2xx');
        });

        // 04_management_test.go Setup "Populate registry with test layer"
        it('Populate registry with test layer', async () => {
          const { client } = suite;
          const resp = await client.postThenPutBlob(data.layerBlobDigest, data.layerBlobContentLength, data.layerBlobData);
          expectStatus(resp, '2xx');
        });

        // 04_management_test.go Setup "Populate registry with test tag"
        it('Populate registry with test tag', async () => {
          const { client } = suite;
          tagToDelete = defaultTagName;
          const resp = await client.do(
            client
              .newRequest('PUT', '/v2/<name>/manifests/<reference>', { reference: tagToDelete })
              .setHeader('Content-Type', 'application/vnd.oci.image.manifest.v1+json')
              .setBody(manifests[3].content),
          );
          expectStatus(resp, '2xx');
        });

        // 04_management_test.go Setup "Check how many tags there are before anything gets deleted"
        it('Check how many tags there are before anything gets deleted', async () => {
          const { client } = suite;
          const resp = await client.do(client.newRequest('GET', '/v2/<name>/tags/list'));
          expectStatus(resp, 200);
          numTags = (resp.json<TagList>().tags ?? []).length;
        });
      });

    describe('Manifest delete', () => {
      // 04_management_test.go "DELETE request to manifest tag should return 202, unless tag deletion is disallowed (400/405)"
      it('DELETE request to manifest tag should return 202, unless tag deletion is disallowed (400/405)', async () => {
        const { client } = suite;
        const resp = await client.do(client.newRequest('DELETE', '/v2/<name>/manifests/<reference>', { reference: tagToDelete }));
        expectStatus(resp, 400, 202, 405);
        if (resp.status === 400) {
          const errors = resp.errors();
          expect(errors).not.toHaveLength(0);
          expect(errors[0].code).toBe('UNSUPPORTED');
        }
      });

      // 04_management_test.go "DELETE request to manifest (digest) should yield 202 response unless already deleted"
      it('DELETE request to manifest (digest) should yield 202 response unless already deleted', async () => {
        const { client } = suite;
        const resp = await client.do(client.newRequest('DELETE', '/v2/<name>/manifests/<digest>', { digest: manifests[3].digest }));
        expectStatus(resp, 202, 404);
      });

      // 04_management_test.go "GET request to deleted manifest URL should yield 404 response, unless delete is disallowed"
      it('GET request to deleted manifest URL should yield 404 response, unless delete is disallowed', async () => {
        const { client } = suite;
        const resp = await client.do(client.newRequest('GET', '/v2/<name>/manifests/<digest>', { digest: manifests[3].digest }));
        expectStatus(resp, 404, 200);
      });

      // 04_management_test.go "GET request to tags list should reflect manifest deletion"
      it('GET request to tags list should reflect manifest deletion', async () => {
        const { client } = suite;
        const resp = await client.do(client.newRequest('GET', '/v2/<name>/tags/list'));
        expectStatus(resp, 200);
        const tagList = resp.json<TagList>();
        expect((tagList.tags ?? []).length).toBeLessThan(numTags);
      });
    });

    describe('Blob delete', () => {
      // 04_management_test.go "DELETE request to blob URL should yield 202 response"
      it('DELETE request to blob URL should yield 202 response', async (ctx) => {
        const { client } = suite;
        runOnlyIf(ctx, options.runContentManagementSetup, 'RunOnlyIf(runContentManagementSetup)');
        // config blob
        let resp = await client.do(client.newRequest('DELETE', '/v2/<name>/blobs/<digest>', { digest: configs[3].digest }));
        expectStatus(resp, 202, 404, 405);
        // layer blob
        resp = await client.do(client.newRequest('DELETE', '/v2/<name>/blobs/<digest>', { digest: data.layerBlobDigest }));
        expectStatus(resp, 202, 404, 405);
        if (resp.status === 405) blobDeleteAllowed = false;
      });

      // 04_management_test.go "GET request to deleted blob URL should yield 404 response"
      it('GET request to deleted blob URL should yield 404 response', async (ctx) => {
        const { client } = suite;
        runOnlyIf(ctx, options.runContentManagementSetup, 'RunOnlyIf(runContentManagementSetup)');
        runOnlyIf(ctx, blobDeleteAllowed, 'RunOnlyIf(blobDeleteAllowed)');
        const resp = await client.do(client.newRequest('GET', '/v2/<name>/blobs/<digest>', { digest: configs[3].digest }));
        expectStatus(resp, 404);
      });
    });
  });
}
