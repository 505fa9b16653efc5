// A real client's pull: `skopeo copy` of a 5-layer image (1, 4, 16, 32, 64 MiB) from the registry
// into a local dir: layout, timed from spawn to exit. skopeo checks every blob's digest itself;
// afterwards the manifest bytes and each blob's size are checked again here.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext } from '../context.js';
import { buildImage, MiB, randomBuffer, type Image } from '../content.js';
import { pushImage, WrongAnswer, type Target } from '../client.js';
import { seconds } from '../pool.js';
import type { Workload } from '../runner.js';

const REPOSITORY = 'bench/skopeo';
const TAG = 'v1';
const LIMIT_MS = 300_000;

function runSkopeo(args: string[]): Promise<void> {
  return new Promise((ok, fail) => {
    const child = spawn('skopeo', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), LIMIT_MS);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(killer);
      if (code === 0) ok();
      else fail(new WrongAnswer(`skopeo ${args.join(' ')} exited with ${code}: ${stderr.trim().slice(-500)}`));
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

export function skopeoWorkload({ options, workDir }: BenchContext): Workload<Target> {
  const sizes = options.skopeoLayersMiB;
  let image: Image | undefined;
  return {
    id: 'skopeo-copy',
    title: `skopeo copy of a ${sizes.length}-layer image (${sizes.join(', ')} MiB) to a dir: layout`,
    metrics: [{ key: 'seconds', label: 'wall time', unit: 's', better: 'lower', digits: 2 }],
    async setup(target) {
      image ??= buildImage(sizes.map((m) => randomBuffer(m * MiB)), 'skopeo');
      await pushImage(target, REPOSITORY, TAG, image);
    },
    async run(target, round) {
      const dest = join(workDir, `skopeo-${target.name}-${round}`);
      rmSync(dest, { recursive: true, force: true });
      const source = `docker://${target.base.host}/${REPOSITORY}:${TAG}`;
      const started = performance.now();
      await runSkopeo(['copy', '--quiet', '--src-tls-verify=false', source, `dir:${dest}`]);
      const s = seconds(started);
      try {
        checkCopy(dest, image!);
      } finally {
        rmSync(dest, { recursive: true, force: true });
      }
      return { seconds: s };
    },
  };
}
