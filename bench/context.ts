// What every workload module is given: the options, the run's work directory, the log, and the
// manifest that the manifest workloads and the framework-ceiling server share.
import type { Image } from './content.js';
import type { Options } from './options.js';
import type { Log } from './runner.js';

export interface BenchContext {
  options: Options;
  workDir: string;
  log: Log;
  /** A small image whose manifest is served by every manifest workload; `file` holds its bytes. */
  manifest: { image: Image; file: string };
}
