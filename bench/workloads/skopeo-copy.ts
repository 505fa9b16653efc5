// A real client's pull: `skopeo copy` of a 5-layer image (1, 4, 16, 32, 64 MiB) from the registry
// into a local dir: layout, timed from spawn to exit. skopeo checks every blob's digest itself;
// afterwards the manifest bytes and each blob's size are checked again here. Also run on stowage
// on S3 (the S3 column); the pull-through proxy workloads pull with the same function.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext } from '../context.js';
import type { Image } from '../content.js';
import { pushImage, WrongAnswer, type Target } from '../client.js';
import { seconds } from '../pool.js';
import type { Workload } from '../runner.js';

export const SKOPEO_REPOSITORY = 'bench/skopeo';
export const SKOPEO_TAG = 'v1';
const LIMIT_MS = 300_000;

function runCommand(command: string, args: string[]): Promise<void> {
  return new Promise((ok, fail) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), LIMIT_MS);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(killer);
      if (code === 0) ok();
      else fail(new WrongAnswer(`${command} ${args.join(' ')} exited with ${code}: ${stderr.trim().slice(-500)}`));
    });
  });
}

function checkCopy(dir: string, image: Image): void {
  const manifest = readFileSync(join(dir, 'manifest.json'));
  if (!manifest.equals(image.manifest)) throw new WrongAnswer(`skopeo wrote a manifest that differs from the pushed one (${manifest.length} bytes)`);
  const blobs = [...image.layers.map((bytes, i) => ({ bytes, digest: image.layerDigests[i] })), { bytes: image.config, digest: image.configDigest }];
  for (const { bytes, digest } of blobs) {
    const file = join(dir, digest.slice('sha256:'.length));
    const size = statSync(file, { throwIfNoEntry: false })?.size;
    if (size !== bytes.length) throw new WrongAnswer(`skopeo copy: ${file} has ${size ?? 'no'} bytes, expected ${bytes.length}`);
  }
}

/**
 * `skopeo copy` of SKOPEO_REPOSITORY:SKOPEO_TAG from the target into the directory `dest`, timed
 * from spawn to exit; the copy is checked against `image`, then removed. Returns the seconds.
 */
export async function skopeoPull(target: Target, dest: string, image: Image): Promise<number> {
  rmSync(dest, { recursive: true, force: true });
  const source = `docker://${target.base.host}/${SKOPEO_REPOSITORY}:${SKOPEO_TAG}`;
  // The previous copy's dirty pages would otherwise be written back during this one, at a moment
  // that differs from round to round: flushed first, the rounds spread a third as much.
  await runCommand('sync', []);
  try {
    const started = performance.now();
    await runCommand('skopeo', ['copy', '--quiet', '--src-tls-verify=false', source, `dir:${dest}`]);
    const s = seconds(started);
    checkCopy(dest, image);
    return s;
  } finally {
    rmSync(dest, { recursive: true, force: true });
  }
}

export function skopeoWorkload({ options, workDir, layeredImage }: BenchContext): Workload<Target> {
  const sizes = options.skopeoLayersMiB;
  return {
    id: 'skopeo-copy',
    title: `skopeo copy of a ${sizes.length}-layer image (${sizes.join(', ')} MiB) to a dir: layout`,
    metrics: [{ key: 'seconds', label: 'wall time', unit: 's', better: 'lower', digits: 2 }],
    targets: ['stowage', 'reference', 'stowage-s3'],
    async setup(target) {
      await pushImage(target, SKOPEO_REPOSITORY, SKOPEO_TAG, layeredImage());
    },
    async run(target, round) {
      return { seconds: await skopeoPull(target, join(workDir, `skopeo-${target.name}-${round}`), layeredImage()) };
    },
  };
}
