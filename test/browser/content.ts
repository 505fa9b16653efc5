// What the browser tests look at, pushed the way users push: images written as OCI layouts on
// disk (real gzipped tar layers, a config with history, entrypoint, env, labels) and copied into
// the registry by skopeo; many tags and a signature-like referrer through the HTTP API.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';

const run = promisify(execFile);

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
  artifactType?: string;
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const SIGNATURE_TYPE = 'application/vnd.dev.cosign.artifact.sig.v1+json';

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A one-file tar archive (ustar), gzipped: a real layer any tool can unpack. */
export function tarLayer(fileName: string, content: string): Buffer {
  const data = Buffer.from(content);
  const header = Buffer.alloc(512);
  header.write(fileName, 0, 100);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write(
    `${Math.floor(Date.UTC(2026, 0, 1) / 1000)
      .toString(8)
      .padStart(11, '0')}\0`,
    136,
  );
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const padded = Buffer.alloc(Math.ceil(data.length / 512) * 512);
  data.copy(padded);
  return gzipSync(Buffer.concat([header, padded, Buffer.alloc(1024)]));
}

/** An OCI image layout directory being written: blobs by digest, and index.json at the end. */
class Layout {
  private readonly entries: Descriptor[] = [];
  constructor(readonly dir: string) {}

  async blob(mediaType: string, bytes: Buffer): Promise<Descriptor> {
    const digest = sha256(bytes);
    await fsp.mkdir(path.join(this.dir, 'blobs/sha256'), { recursive: true });
    await fsp.writeFile(path.join(this.dir, 'blobs/sha256', digest.slice(7)), bytes);
    return { mediaType, digest, size: bytes.length };
  }

  async image(arch: string, appName: string): Promise<Descriptor> {
    const layers = [
      tarLayer('etc/os-release', `NAME=stowage-test\nARCH=${arch}\n`),
      tarLayer(`app/${appName}`, `#!/bin/sh\necho ${appName} on ${arch}\n`),
    ];
    const layerDescriptors = await Promise.all(layers.map((l) => this.blob(OCI_LAYER, l)));
    const diffIds = layers.map((l) => sha256(gunzipTar(l)));
    const config = {
      created: '2026-11-30T10:00:00Z',
      author: 'Stowage Tests <dev@stowage.local>',
      architecture: arch,
      os: 'linux',
      config: {
        User: 'app',
        Env: ['PATH=/usr/local/bin:/usr/bin:/bin', `APP=${appName}`],
        Entrypoint: ['/app/' + appName],
        Cmd: ['--serve'],
        WorkingDir: '/app',
        ExposedPorts: { '8080/tcp': {} },
        Labels: { 'org.opencontainers.image.source': 'https://example.invalid/stowage', 'org.opencontainers.image.version': '1.0.0' },
      },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: [
        { created: '2026-11-30T09:59:00Z', created_by: '/bin/sh -c #(nop) ADD file:os-release in /etc/' },
        { created: '2026-11-30T09:59:30Z', created_by: '/bin/sh -c #(nop) ENV APP=' + appName, empty_layer: true },
        { created: '2026-11-30T10:00:00Z', created_by: `COPY ${appName} /app/ # buildkit`, comment: 'buildkit.dockerfile.v0' },
      ],
    };
    const configDescriptor = await this.blob(OCI_CONFIG, Buffer.from(JSON.stringify(config)));
    const manifest = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: configDescriptor, layers: layerDescriptors };
    return { ...(await this.blob(OCI_MANIFEST, Buffer.from(JSON.stringify(manifest)))), platform: { os: 'linux', architecture: arch } };
  }

  async index(children: Descriptor[]): Promise<Descriptor> {
    const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: children };
    return this.blob(OCI_INDEX, Buffer.from(JSON.stringify(index)));
  }

  tag(descriptor: Descriptor, tag: string): void {
    const { platform: _platform, ...plain } = descriptor;
    this.entries.push({ ...plain, annotations: { 'org.opencontainers.image.ref.name': tag } });
  }

  async finish(): Promise<void> {
    await fsp.writeFile(path.join(this.dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await fsp.writeFile(path.join(this.dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: this.entries }));
  }
}

/** diff_ids are digests of the uncompressed layers. */
function gunzipTar(gz: Buffer): Buffer {
  return gunzipSync(gz);
}

export interface Credentials {
  user: string;
  password: string;
}

/** Copies layout:tag to host/name:tag with skopeo (all platforms of an index). */
async function skopeoCopy(dir: string, tag: string, host: string, name: string, creds?: Credentials): Promise<void> {
  const args = ['copy', '--quiet', '--all', '--dest-tls-verify=false', ...(creds ? ['--dest-creds', `${creds.user}:${creds.password}`] : [])];
  await run('skopeo', [...args, `oci:${dir}:${tag}`, `docker://${host}/${name}:${tag}`]);
}

/** Pushes an image (one platform) as name:tag with skopeo; returns its manifest digest. */
export async function pushImageWithSkopeo(
  host: string,
  name: string,
  tags: string[],
  options: { arch?: string; app?: string; creds?: Credentials } = {},
): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'stowage-ui-oci-'));
  try {
    const layout = new Layout(dir);
    const image = await layout.image(options.arch ?? 'amd64', options.app ?? name.split('/').pop()!);
    for (const tag of tags) layout.tag(image, tag);
    await layout.finish();
    for (const tag of tags) await skopeoCopy(dir, tag, host, name, options.creds);
    return image.digest;
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

/** Pushes a linux/amd64 + linux/arm64 index as name:tag with skopeo --all; returns the index digest and its children. */
export async function pushIndexWithSkopeo(
  host: string,
  name: string,
  tag: string,
  creds?: Credentials,
): Promise<{ digest: string; children: Descriptor[] }> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'stowage-ui-oci-'));
  try {
    const layout = new Layout(dir);
    const app = name.split('/').pop()!;
    const children = [await layout.image('amd64', app), await layout.image('arm64', app)];
    const index = await layout.index(children);
    layout.tag(index, tag);
    await layout.finish();
    await skopeoCopy(dir, tag, host, name, creds);
    return { digest: index.digest, children };
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

function authHeaders(creds?: Credentials): Record<string, string> {
  return creds ? { Authorization: `Basic ${Buffer.from(`${creds.user}:${creds.password}`).toString('base64')}` } : {};
}

async function expectStatus(response: Response, status: number, what: string): Promise<void> {
  if (response.status !== status) throw new Error(`${what}: ${response.status} ${await response.text()}`);
}

/** Points count tags (prefix-0000 ...) at the manifest the tag `from` names, through the API. */
export async function addTags(url: string, name: string, from: string, prefix: string, count: number, creds?: Credentials): Promise<void> {
  const source = await fetch(`${url}/v2/${name}/manifests/${from}`, { headers: { ...authHeaders(creds), Accept: `${OCI_MANIFEST}, ${OCI_INDEX}` } });
  await expectStatus(source, 200, `GET ${name}:${from}`);
  const mediaType = source.headers.get('content-type')!;
  const bytes = Buffer.from(await source.arrayBuffer());
  for (let start = 0; start < count; start += 20) {
    await Promise.all(
      Array.from({ length: Math.min(20, count - start) }, async (_, i) => {
        const tag = `${prefix}-${String(start + i).padStart(4, '0')}`;
        const put = await fetch(`${url}/v2/${name}/manifests/${tag}`, {
          method: 'PUT',
          body: bytes,
          headers: { ...authHeaders(creds), 'Content-Type': mediaType },
        });
        await expectStatus(put, 201, `PUT ${name}:${tag}`);
      }),
    );
  }
}

/** Pushes a signature-like artifact whose subject is digest (a referrer); returns its digest. */
export async function pushSignature(url: string, name: string, subject: Descriptor, creds?: Credentials): Promise<string> {
  const payload = Buffer.from(JSON.stringify({ critical: { image: { 'docker-manifest-digest': subject.digest } } }));
  const empty = Buffer.from('{}');
  for (const blob of [payload, empty]) {
    const post = await fetch(`${url}/v2/${name}/blobs/uploads/?digest=${sha256(blob)}`, {
      method: 'POST',
      body: blob,
      headers: { ...authHeaders(creds), 'Content-Type': 'application/octet-stream' },
    });
    await expectStatus(post, 201, `POST blob to ${name}`);
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: SIGNATURE_TYPE,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(empty), size: empty.length },
      layers: [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest: sha256(payload), size: payload.length }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations: { 'dev.stowage.test': 'signature' },
    }),
  );
  const digest = sha256(manifest);
  const put = await fetch(`${url}/v2/${name}/manifests/${digest}`, {
    method: 'PUT',
    body: manifest,
    headers: { ...authHeaders(creds), 'Content-Type': OCI_MANIFEST },
  });
  await expectStatus(put, 201, `PUT signature in ${name}`);
  return digest;
}

/** The descriptor of name:reference as the registry serves it. */
export async function descriptorOf(url: string, name: string, reference: string, creds?: Credentials): Promise<Descriptor> {
  const res = await fetch(`${url}/v2/${name}/manifests/${reference}`, {
    method: 'HEAD',
    headers: { ...authHeaders(creds), Accept: `${OCI_MANIFEST}, ${OCI_INDEX}` },
  });
  await expectStatus(res, 200, `HEAD ${name}:${reference}`);
  return {
    mediaType: res.headers.get('content-type')!,
    digest: res.headers.get('docker-content-digest')!,
    size: Number(res.headers.get('content-length')),
  };
}
