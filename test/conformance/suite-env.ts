// The official suite's options, read from the same environment variables with the same rules as
// its setup.go (opencontainers/distribution-spec conformance/setup.go, init()): booleans through
// Go's strconv.ParseBool, the cross-mount namespace defaulting to "conformance-<uuid>", pull setup
// skipped when OCI_TAG_NAME + OCI_MANIFEST_DIGEST + OCI_BLOB_DIGEST name pre-seeded content, and
// discovery setup skipped when OCI_TAG_LIST is set. The port runs the suite once per such set.
import { randomUUID } from 'node:crypto';

export type SuiteEnv = Record<string, string | undefined>;

/** Every variable the official suite reads, and what it does there. */
export const SUITE_ENV_VARS = {
  OCI_ROOT_URL: 'registry base URL (the port passes its own server)',
  OCI_NAMESPACE: 'repository every request names by default (<name>)',
  OCI_CROSSMOUNT_NAMESPACE: 'repository the cross-mount checks mount into; default conformance-<uuid>',
  OCI_USERNAME: 'basic/token auth user (stowage has no auth yet: unused)',
  OCI_PASSWORD: 'basic/token auth password (unused)',
  OCI_AUTH_SCOPE: 'token scope override (unused)',
  OCI_DEBUG: 'HTTP debug log (reporting only)',
  OCI_TEST_PULL: 'run the Pull workflow',
  OCI_TEST_PUSH: 'run the Push workflow',
  OCI_TEST_CONTENT_DISCOVERY: 'run the Content Discovery workflow',
  OCI_TEST_CONTENT_MANAGEMENT: 'run the Content Management workflow',
  OCI_SKIP_EMPTY_LAYER_PUSH_TEST: 'declared in setup.go, read by no check in this revision',
  OCI_BLOB_DIGEST: 'replaces every config blob digest (pre-seeded pull)',
  OCI_MANIFEST_DIGEST: 'replaces every manifest digest (pre-seeded pull)',
  OCI_TAG_NAME: 'tag the pull checks use when pull setup is skipped',
  OCI_TAG_LIST: 'comma-separated tags; skips the discovery setup',
  OCI_HIDE_SKIPPED_WORKFLOWS: 'report only',
  OCI_DELETE_MANIFEST_BEFORE_BLOBS: 'teardown order; default true',
  OCI_AUTOMATIC_CROSSMOUNT: 'when set, also checks mount without from: true expects 201, false 202',
  OCI_REPORT_DIR: 'where junit.xml and report.html go (report only)',
} as const;

export interface SuiteOptions {
  rootUrl: string;
  namespace: string;
  crossmountNamespace: string;
  workflows: { pull: boolean; push: boolean; contentDiscovery: boolean; contentManagement: boolean };
  runPullSetup: boolean;
  runPushSetup: boolean;
  runContentDiscoverySetup: boolean;
  runContentManagementSetup: boolean;
  deleteManifestBeforeBlobs: boolean;
  runAutomaticCrossmountTest: boolean;
  automaticCrossmountEnabled: boolean;
  blobDigest?: string;
  manifestDigest?: string;
  tagName?: string;
  tagList?: string;
}

/** Go's strconv.ParseBool: the value, or undefined where Go returns an error. */
export function parseGoBool(value: string | undefined): boolean | undefined {
  switch (value) {
    case '1':
    case 't':
    case 'T':
    case 'TRUE':
    case 'true':
    case 'True':
      return true;
    case '0':
    case 'f':
    case 'F':
    case 'FALSE':
    case 'false':
    case 'False':
      return false;
    default:
      return undefined;
  }
}

export function parseSuiteEnv(env: SuiteEnv): SuiteOptions {
  const isTrue = (key: string) => parseGoBool(env[key]) === true;
  const nonEmpty = (key: string) => (env[key] ? env[key] : undefined);
  const automaticCrossmount = env.OCI_AUTOMATIC_CROSSMOUNT;
  return {
    rootUrl: env.OCI_ROOT_URL ?? '',
    namespace: env.OCI_NAMESPACE ?? '',
    crossmountNamespace: nonEmpty('OCI_CROSSMOUNT_NAMESPACE') ?? `conformance-${randomUUID()}`,
    workflows: {
      pull: isTrue('OCI_TEST_PULL'),
      push: isTrue('OCI_TEST_PUSH'),
      contentDiscovery: isTrue('OCI_TEST_CONTENT_DISCOVERY'),
      contentManagement: isTrue('OCI_TEST_CONTENT_MANAGEMENT'),
    },
    runPullSetup: !(nonEmpty('OCI_TAG_NAME') && nonEmpty('OCI_MANIFEST_DIGEST') && nonEmpty('OCI_BLOB_DIGEST')),
    runPushSetup: true,
    runContentDiscoverySetup: !nonEmpty('OCI_TAG_LIST'),
    runContentManagementSetup: true,
    // Go: deleteManifestBeforeBlobs = true, then ParseBool of the variable when it is set at all
    // (an unparsable value makes it false, as ParseBool's zero value does).
    deleteManifestBeforeBlobs: env.OCI_DELETE_MANIFEST_BEFORE_BLOBS === undefined ? true : isTrue('OCI_DELETE_MANIFEST_BEFORE_BLOBS'),
    runAutomaticCrossmountTest: automaticCrossmount !== undefined,
    automaticCrossmountEnabled: parseGoBool(automaticCrossmount) === true,
    blobDigest: nonEmpty('OCI_BLOB_DIGEST'),
    manifestDigest: nonEmpty('OCI_MANIFEST_DIGEST'),
    tagName: nonEmpty('OCI_TAG_NAME'),
    tagList: nonEmpty('OCI_TAG_LIST'),
  };
}
