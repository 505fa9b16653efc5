// What every workload module is given: the options, the run's work directory, the log, the
// manifest that the manifest workloads and the framework-ceiling server share, and the 5-layer
// image that skopeo pulls (from the registries, from stowage on S3 and through the proxies).
import type { Image } from './content.js';
import type { Options } from './options.js';
import type { Log } from './runner.js';

export interface BenchContext {
  options: Options;
  workDir: string;
  log: Log;
  /** A small image whose manifest is served by every manifest workload; `file` holds its bytes. */
  manifest: { image: Image; file: string };
  /** The image of options.skopeoLayersMiB, built on first use (random bytes, once per run). */
  layeredImage(): Image;
}
