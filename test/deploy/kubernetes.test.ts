// deploy/kubernetes/ parses, and its objects point at each other and at the server correctly: the
// ConfigMap holds a valid S3 configuration once the Secret's keys are applied as the Deployment
// applies them, the replicas' metadata database is the PostgreSQL StatefulSet behind its Service
// with the user, database and password it creates, the probes ask routes the server has on the
// named port, the Services select their pods, and every pod runs unprivileged.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { databaseUrl, loadConfig, parseListenAddress } from '../../server/config.js';
import { parseDatabaseUrl } from '../../storage/metadata/database.js';
import { OPS_ROUTES } from '../../server/routes/ops.js';
import { s3DriverOptions } from '../../storage/drivers/s3/s3-driver.js';
import { ROOT, readRepoFile } from './deploy-files.js';

// Only the fields these tests read.
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  [field: string]: unknown;
}
interface Probe {
  httpGet: { path: string; port: string | number };
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  ports: Array<{ name: string; containerPort: number }>;
  env: EnvVar[];
  volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  livenessProbe: Probe & { exec?: { command: string[] } };
  readinessProbe: Probe & { exec?: { command: string[] } };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  securityContext: { allowPrivilegeEscalation: boolean; readOnlyRootFilesystem: boolean; capabilities: { drop: string[] } };
}
interface PodSpec {
  terminationGracePeriodSeconds: number;
  securityContext: { runAsNonRoot: boolean; runAsUser: number; fsGroup?: number };
  containers: Container[];
  volumes: Array<{ name: string; configMap?: { name: string }; emptyDir?: object }>;
}
interface Deployment extends K8sObject {
  spec: {
    replicas: number;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
}

const DIR = 'deploy/kubernetes';
const kustomization = parseAllDocuments(readRepoFile(`${DIR}/kustomization.yaml`))[0].toJS() as {
  resources: string[];
  images: Array<{ name: string }>;
};

function objectsOf(file: string): K8sObject[] {
  const documents = parseAllDocuments(readRepoFile(`${DIR}/${file}`));
  for (const doc of documents) expect(doc.errors, `${file} parses`).toEqual([]);
  return documents.map((doc) => doc.toJS() as K8sObject);
}

const objects = kustomization.resources.flatMap(objectsOf);
const one = <T extends K8sObject>(kind: string): T => {
  const found = objects.filter((o) => o.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0] as T;
};
type ServiceObject = K8sObject & {
  spec: { selector: Record<string, string>; ports: Array<{ name: string; port: number; targetPort: string | number }> };
};
type SecretObject = K8sObject & { stringData: Record<string, string> };
const named = <T extends K8sObject>(kind: string, name: string): T => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  expect(found, `${kind} ${name}`).toBeDefined();
  return found as T;
};
const deployment = one<Deployment>('Deployment');
const pod = deployment.spec.template.spec;
const container = pod.containers[0];
const configMap = one<K8sObject & { data: Record<string, string> }>('ConfigMap');
const secrets = objects.filter((o) => o.kind === 'Secret') as SecretObject[];
const service = named<ServiceObject>('Service', 'stowage');
const postgres = one<Deployment & { spec: { serviceName: string; volumeClaimTemplates: Array<{ metadata: { name: string } }> } }>('StatefulSet');
const postgresPod = postgres.spec.template.spec;
const postgresService = named<ServiceObject>('Service', postgres.spec.serviceName);

/** A container's environment as Kubernetes gives it: Secret references resolved, $(VAR) substituted. */
function environmentOf(of: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of of.env) {
    const ref = variable.valueFrom?.secretKeyRef;
    if (ref) {
      const secret = secrets.find((s) => s.metadata.name === ref.name);
      expect(secret, `Secret ${ref.name}`).toBeDefined();
      expect(Object.keys(secret!.stringData)).toContain(ref.key);
      env[variable.name] = secret!.stringData[ref.key];
    } else {
      env[variable.name] = (variable.value ?? '').replace(/\$\((\w+)\)/g, (whole, name: string) => env[name] ?? whole);
    }
  }
  return env;
}

function containerEnvironment(): Record<string, string> {
  return environmentOf(container);
}

/** Loads the ConfigMap's file as the pod does: from the mounted path, with the pod's environment. */
function loadPodConfig() {
  const mount = container.volumeMounts.find((m) => pod.volumes.find((v) => v.name === m.name)?.configMap?.name === configMap.metadata.name);
  expect(mount).toBeDefined();
  const env = containerEnvironment();
  const path = env.REGISTRY_CONFIGURATION_PATH;
  expect(path.startsWith(`${mount!.mountPath}/`)).toBe(true);
  const key = path.slice(mount!.mountPath.length + 1);
  expect(Object.keys(configMap.data)).toContain(key);
  const dir = mkdtempSync(join(tmpdir(), 'stowage-k8s-'));
  try {
    writeFileSync(join(dir, key), configMap.data[key]);
    return { ...loadConfig(join(dir, key), env), env };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('deploy/kubernetes', () => {
  it('lists in its kustomization files that exist, holding a ConfigMap, Secret, Deployment and Service', () => {
    for (const file of kustomization.resources) expect(existsSync(join(ROOT, DIR, file)), file).toBe(true);
    expect(objects.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'Secret', 'Secret', 'Service', 'Service', 'StatefulSet']);
    for (const o of objects) expect(o.apiVersion, o.kind).toMatch(/^(v1|apps\/v1)$/);
    expect(kustomization.images.map((i) => i.name)).toContain(container.image);
  });

  it('runs several replicas of the serve command on S3 with every storage.s3 key set', () => {
    expect(deployment.spec.replicas).toBeGreaterThan(1);
    expect(container.args).toEqual(['serve']);
    const { config, warnings } = loadPodConfig();
    expect(warnings).toEqual([]);
    expect(config.storage.filesystem).toBeUndefined();
    const s3 = config.storage.s3!;
    for (const key of ['regionendpoint', 'region', 'bucket', 'accesskey', 'secretkey', 'rootdirectory', 'secure', 'forcepathstyle'] as const) {
      expect(s3[key], `storage.s3.${key}`).toBeDefined();
    }
    // The credentials come from the Secret through REGISTRY_STORAGE_S3_*, not from the ConfigMap.
    expect(configMap.data['config.yml']).not.toMatch(/accesskey|secretkey/);
    expect(s3.accesskey).toBe(named<SecretObject>('Secret', 'stowage-s3').stringData.accesskey);
    const driver = s3DriverOptions(s3, {});
    expect(driver).toMatchObject({ bucket: s3.bucket, pathStyle: true, rootDirectory: 'registry' });
  });

  it('gives every replica the PostgreSQL of the StatefulSet as its metadata database, password from the Secret', () => {
    const { config } = loadPodConfig();
    const url = databaseUrl(config);
    expect(parseDatabaseUrl(url).dialect).toBe('postgres');
    const database = new URL(url);
    const postgresEnv = environmentOf(postgresPod.containers[0]);
    expect(database.hostname).toBe(postgresService.metadata.name);
    expect(Number(database.port)).toBe(postgresService.spec.ports[0].port);
    expect(database.username).toBe(postgresEnv.POSTGRES_USER);
    expect(database.pathname).toBe(`/${postgresEnv.POSTGRES_DB}`);
    expect(decodeURIComponent(database.password)).toBe(postgresEnv.POSTGRES_PASSWORD);
    // The password is in no file but the Secret.
    expect(configMap.data['config.yml']).not.toMatch(/postgres/);
    expect(deployment.spec.template.spec.containers[0].env.find((v) => v.name === 'REGISTRY_STOWAGE_DATABASE_URL')?.value).toContain('$(');
  });

  it('runs PostgreSQL unprivileged on its claim, behind a Service on its named port, probed with pg_isready', () => {
    expect(postgres.spec.replicas).toBe(1);
    expect(postgresService.spec.selector).toEqual(postgres.spec.selector.matchLabels);
    expect(postgres.spec.selector.matchLabels).toEqual(postgres.spec.template.metadata.labels);
    expect(postgres.spec.selector.matchLabels).not.toEqual(deployment.spec.selector.matchLabels);
    const [db] = postgresPod.containers;
    expect(postgresService.spec.ports.map((p) => p.targetPort)).toEqual(db.ports.map((p) => p.name));
    expect(db.readinessProbe.exec?.command[0]).toBe('pg_isready');
    expect(postgresPod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999, fsGroup: 999 });
    expect(db.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    const env = environmentOf(db);
    const data = db.volumeMounts.find((m) => postgres.spec.volumeClaimTemplates.some((c) => c.metadata.name === m.name));
    expect(env.PGDATA.startsWith(`${data?.mountPath}/`)).toBe(true);
    // What the server writes outside its data directory, on a read-only root.
    for (const path of ['/var/run/postgresql', '/tmp']) {
      const mount = db.volumeMounts.find((m) => m.mountPath === path);
      expect(postgresPod.volumes.find((v) => v.name === mount?.name)?.emptyDir, path).toBeDefined();
    }
  });

  it('probes liveness at /healthz and readiness at /readyz on the port the server listens on', () => {
    const { config } = loadPodConfig();
    const [port] = container.ports;
    expect(port.containerPort).toBe(parseListenAddress(config.http.addr).port);
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: port.name });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: port.name });
    for (const path of ['/healthz', '/readyz']) expect(OPS_ROUTES).toContainEqual({ method: 'GET', path });
  });

  it('lets the Service reach the pods by their labels and named port', () => {
    expect(deployment.spec.selector.matchLabels).toEqual(deployment.spec.template.metadata.labels);
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(service.spec.ports.map((p) => p.targetPort)).toEqual(container.ports.map((p) => p.name));
  });

  it('runs the pods as a non-root user without capabilities on a read-only root, /tmp writable', () => {
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBe(1000);
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    const tmp = container.volumeMounts.find((m) => m.mountPath === '/tmp');
    expect(pod.volumes.find((v) => v.name === tmp?.name)?.emptyDir).toBeDefined();
  });

  it('gives the preStop pause and the drain together less time than the grace period', () => {
    const { config } = loadPodConfig();
    const drainMs = config.http.draintimeoutMs!;
    const command = container.lifecycle!.preStop!.exec!.command;
    expect(command.slice(0, 2)).toEqual(['node', '-e']);
    const pauseMs = Number(/setTimeout\([^,]+,\s*(\d+)\)/.exec(command[2])![1]);
    expect(pauseMs + drainMs).toBeLessThan(pod.terminationGracePeriodSeconds * 1000);
  });
});
