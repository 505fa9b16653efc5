// An image's config blob as the JSON API shows it: what runs (entrypoint, cmd, env, ports, user,
// working directory), labels and volumes, and the build history with each entry matched to the
// layer it made (entries marked empty_layer made none; the others match the layers in order, as
// the OCI image spec says). Reading the config is not a pull. Used by storage/image-details.ts
// and the raw config route (server/routes/api-content.ts).
import { RegistryError } from '../errors/registry-error.js';
import { isNotFound } from './errors.js';
import type { RegistryStorage } from './registry.js';

/** Configs the UI reads whole: larger ones are refused (a config is a few KiB in practice). */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** The config media types of Docker and OCI images (other configs belong to artifacts). */
export const IMAGE_CONFIG_MEDIA_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.container.image.v1+json',
]);

export interface ImageHistoryEntry {
  created?: string;
  createdBy?: string;
  comment?: string;
  emptyLayer: boolean;
  /** Index into the manifest's layers of the layer this entry made; undefined for none (or past the last). */
  layer?: number;
}

export interface ImageConfig {
  created?: string;
  author?: string;
  os?: string;
  architecture?: string;
  variant?: string;
  entrypoint?: string[];
  cmd?: string[];
  env: string[];
  /** "80/tcp", as the config's ExposedPorts keys. */
  exposedPorts: string[];
  workingDir?: string;
  user?: string;
  labels: Record<string, string>;
  volumes: string[];
  history: ImageHistoryEntry[];
}

/**
 * The bytes of a config blob the repository links, at most MAX_CONFIG_BYTES. Throws BLOB_UNKNOWN
 * when the repository does not hold it, UNSUPPORTED (413) when it is larger.
 */
export async function readConfigBlob(storage: RegistryStorage, name: string, digest: string): Promise<Buffer> {
  const { size } = await storage.blobs.stat(name, digest);
  if (size > MAX_CONFIG_BYTES) {
    throw new RegistryError('UNSUPPORTED', `the config is larger than ${MAX_CONFIG_BYTES} bytes`, { status: 413, detail: { digest, size } });
  }
  try {
    return await storage.blobs.readGlobal(digest);
  } catch (err) {
    // Collected since the stat.
    if (isNotFound(err)) throw new RegistryError('BLOB_UNKNOWN', undefined, { detail: { digest } });
    throw err;
  }
}

/** The config of an image with layerCount layers; undefined when the bytes are not a JSON object. */
export function parseImageConfig(bytes: Buffer, layerCount: number): ImageConfig | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(doc)) return undefined;
  const run = isObject(doc.config) ? doc.config : {};
  const config: ImageConfig = {
    env: strings(run.Env) ?? [],
    exposedPorts: isObject(run.ExposedPorts) ? Object.keys(run.ExposedPorts) : [],
    labels: stringValues(run.Labels),
    volumes: isObject(run.Volumes) ? Object.keys(run.Volumes) : [],
    history: historyOf(doc.history, layerCount),
  };
  const set = <K extends keyof ImageConfig>(key: K, value: ImageConfig[K] | undefined) => {
    if (value !== undefined) config[key] = value;
  };
  set('created', text(doc.created));
  set('author', text(doc.author));
  set('os', text(doc.os));
  set('architecture', text(doc.architecture));
  set('variant', text(doc.variant));
  set('entrypoint', strings(run.Entrypoint));
  set('cmd', strings(run.Cmd));
  set('workingDir', text(run.WorkingDir));
  set('user', text(run.User));
  return config;
}

/** The history, each entry that made a layer matched to the next layer in order. */
function historyOf(value: unknown, layerCount: number): ImageHistoryEntry[] {
  if (!Array.isArray(value)) return [];
  let next = 0;
  const history: ImageHistoryEntry[] = [];
  for (const item of value as unknown[]) {
    const entry = isObject(item) ? item : {};
    const out: ImageHistoryEntry = { emptyLayer: entry.empty_layer === true };
    const created = text(entry.created);
    const createdBy = text(entry.created_by);
    const comment = text(entry.comment);
    if (created !== undefined) out.created = created;
    if (createdBy !== undefined) out.createdBy = createdBy;
    if (comment !== undefined) out.comment = comment;
    if (!out.emptyLayer) {
      if (next < layerCount) out.layer = next;
      next++;
    }
    history.push(out);
  }
  return history;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function strings(value: unknown): string[] | undefined {
  return Array.isArray(value) ? (value as unknown[]).filter((v): v is string => typeof v === 'string') : undefined;
}

function stringValues(value: unknown): Record<string, string> {
  // fromEntries defines own properties: a "__proto__" label stays a label.
  return isObject(value) ? Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string')) : {};
}
