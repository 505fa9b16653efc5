// The OCI distribution-spec conformance suite (opencontainers/distribution-spec conformance/,
// Go + ginkgo), ported check by check to vitest (test/conformance/) and run against a real HTTP
// server of ours on 127.0.0.1 with deletes enabled. The official suite is driven by environment
// variables; here each run is one such set of variables, parsed by the same rules (suite-env.ts),
// against a fresh registry: the four workflows in the official order pull, push, content
// discovery, content management.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConformanceClient } from '../conformance/registry-client.js';
import { filesystemDriverFactory } from '../helpers/drivers.js';
import { startTestRegistry, type TestRegistry } from '../helpers/test-registry.js';
import { parseGoBool, parseSuiteEnv, type SuiteEnv } from '../conformance/suite-env.js';
import type { SuiteContext } from '../conformance/suite-context.js';
import { makeTestData, marshalManifest, sha256 } from '../conformance/test-data.js';
import { pullWorkflow } from '../conformance/pull.js';
import { pushWorkflow } from '../conformance/push.js';
import { discoveryWorkflow } from '../conformance/discovery.js';
import { managementWorkflow } from '../conformance/management.js';

const ALL_WORKFLOWS: SuiteEnv = {
  OCI_TEST_PULL: '1',
  OCI_TEST_PUSH: '1',
  OCI_TEST_CONTENT_DISCOVERY: '1',
  OCI_TEST_CONTENT_MANAGEMENT: '1',
};

/** Content pushed before the suite starts, for OCI_TAG_NAME / OCI_MANIFEST_DIGEST / OCI_BLOB_DIGEST. */
const preseededConfig = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
const preseededManifest = marshalManifest({
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(preseededConfig), size: preseededConfig.length },
  layers: [],
});

async function preseed(client: ConformanceClient): Promise<void> {
  const started = await client.do(client.newRequest('POST', '/v2/<name>/blobs/uploads/'));
  const blob = await client.do(
    client.newRequest('PUT', started.relativeLocation()).setQueryParam('digest', sha256(preseededConfig)).setBody(preseededConfig),
  );
  expect(blob.status).toBe(201);
  const manifest = await client.do(
    client
      .newRequest('PUT', '/v2/<name>/manifests/<reference>', { reference: 'preseeded' })
      .setHeader('Content-Type', 'application/vnd.oci.image.manifest.v1+json')
      .setBody(preseededManifest),
  );
  expect(manifest.status).toBe(201);
}

interface SuiteRun {
  title: string;
  env: SuiteEnv;
  /** Content the run expects the registry to hold before the suite starts. */
  seed?: (client: ConformanceClient) => Promise<void>;
}

const RUNS: SuiteRun[] = [
  {
    // The README's invocation: every workflow on, a generated conformance-<uuid> cross-mount
    // namespace, manifests deleted before blobs, automatic cross-mount checks not run.
    title: 'defaults',
    env: { OCI_NAMESPACE: 'myorg/myrepo', ...ALL_WORKFLOWS },
  },
  {
    title: 'OCI_CROSSMOUNT_NAMESPACE set, blobs deleted before manifests, OCI_AUTOMATIC_CROSSMOUNT=false',
    env: {
      OCI_NAMESPACE: 'conformance/nested/repo',
      OCI_CROSSMOUNT_NAMESPACE: 'conformance/crossmount',
      OCI_DELETE_MANIFEST_BEFORE_BLOBS: 'false',
      OCI_AUTOMATIC_CROSSMOUNT: 'false',
      ...ALL_WORKFLOWS,
    },
  },
  {
    title: 'content management alone, on an empty registry',
    env: { OCI_NAMESPACE: 'myorg/myrepo', OCI_TEST_CONTENT_MANAGEMENT: 'true' },
  },
  {
    title: 'pull alone, of pre-seeded content (OCI_TAG_NAME, OCI_MANIFEST_DIGEST, OCI_BLOB_DIGEST)',
    env: {
      OCI_NAMESPACE: 'seeded/repo',
      OCI_TEST_PULL: '1',
      OCI_TAG_NAME: 'preseeded',
      OCI_MANIFEST_DIGEST: sha256(preseededManifest),
      OCI_BLOB_DIGEST: sha256(preseededConfig),
    },
    seed: preseed,
  },
];

describe('conformance suite options (setup.go init)', () => {
  it('reads booleans as strconv.ParseBool does', () => {
    for (const yes of ['1', 't', 'T', 'true', 'TRUE', 'True']) expect(parseGoBool(yes)).toBe(true);
    for (const no of ['0', 'f', 'F', 'false', 'FALSE', 'False']) expect(parseGoBool(no)).toBe(false);
    for (const bad of ['', 'yes', 'on', ' 1']) expect(parseGoBool(bad)).toBeUndefined();
  });

  it('defaults to no workflows, a generated cross-mount namespace and manifests deleted first', () => {
    const options = parseSuiteEnv({ OCI_NAMESPACE: 'a/b' });
    expect(options.workflows).toEqual({ pull: false, push: false, contentDiscovery: false, contentManagement: false });
    expect(options.crossmountNamespace).toMatch(/^conformance-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(options.deleteManifestBeforeBlobs).toBe(true);
    expect(options.runAutomaticCrossmountTest).toBe(false);
    expect(options.runPullSetup).toBe(true);
    expect(options.runContentDiscoverySetup).toBe(true);
  });

  it('skips pull setup only when tag, manifest digest and blob digest are all given', () => {
    const some = { OCI_TAG_NAME: 't', OCI_MANIFEST_DIGEST: 'sha256:x' };
    expect(parseSuiteEnv(some).runPullSetup).toBe(true);
    expect(parseSuiteEnv({ ...some, OCI_BLOB_DIGEST: 'sha256:y' }).runPullSetup).toBe(false);
    expect(parseSuiteEnv({ OCI_TAG_LIST: 'a,b' }).runContentDiscoverySetup).toBe(false);
  });

  it('runs the automatic cross-mount check whenever the variable is set, expecting 201 only when true', () => {
    expect(parseSuiteEnv({ OCI_AUTOMATIC_CROSSMOUNT: 'false' })).toMatchObject({
      runAutomaticCrossmountTest: true,
      automaticCrossmountEnabled: false,
    });
    expect(parseSuiteEnv({ OCI_AUTOMATIC_CROSSMOUNT: '1' })).toMatchObject({ runAutomaticCrossmountTest: true, automaticCrossmountEnabled: true });
    expect(parseSuiteEnv({ OCI_DELETE_MANIFEST_BEFORE_BLOBS: 'no' }).deleteManifestBeforeBlobs).toBe(false);
  });

  it('overrides every config and manifest digest with OCI_BLOB_DIGEST and OCI_MANIFEST_DIGEST', () => {
    const options = parseSuiteEnv({ OCI_BLOB_DIGEST: 'sha256:b', OCI_MANIFEST_DIGEST: 'sha256:m' });
    const data = makeTestData(options, 1);
    expect(new Set(data.configs.map((c) => c.digest))).toEqual(new Set(['sha256:b']));
    expect(new Set(data.manifests.map((m) => m.digest))).toEqual(new Set(['sha256:m']));
  });

  it('builds the referrers test data the suite expects (empty JSON blob, five referrers of manifests[4])', () => {
    const data = makeTestData(parseSuiteEnv({}), 7);
    expect(data.emptyJSONDescriptor.digest).toBe('sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
    expect(Object.keys(data.testAnnotationValues)).toHaveLength(5);
    expect(data.chunked.chunk1Range).toBe('0-21');
    expect(data.chunked.chunk2Range).toBe('22-41');
    const manifest = JSON.parse(data.manifests[0].content.toString('utf8'));
    expect(manifest.config.newUnspecifiedField).toBe(Buffer.from('hello world').toString('base64'));
    expect(manifest.layers[0].newUnspecifiedField).toBeNull();
  });
});

describe.each(RUNS)('OCI distribution-spec conformance: $title', ({ env, seed }) => {
  const options = parseSuiteEnv(env);
  const suite: SuiteContext = {
    options,
    // GinkgoRandomSeed() in Go: a new seed per run.
    data: makeTestData(options, Math.floor(Date.now() / 1000)),
    client: undefined as unknown as ConformanceClient,
  };
  let registry: TestRegistry | undefined;

  beforeAll(async () => {
    registry = await startTestRegistry(filesystemDriverFactory);
    suite.client = new ConformanceClient(registry.url, options.namespace);
    if (seed) await seed(suite.client);
  });

  afterAll(async () => {
    await registry?.cleanup();
  });

  pullWorkflow(suite);
  pushWorkflow(suite);
  discoveryWorkflow(suite);
  managementWorkflow(suite);
});
