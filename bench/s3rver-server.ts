// The S3 server of the S3 column, run as a child process so that its CPU time is its own:
//   s3rver-server PORT DIRECTORY BUCKET FIXES
// starts s3rver on 127.0.0.1:PORT with DIRECTORY as its store and BUCKET created, after loading
// FIXES (test/helpers/s3rver-fixes.cjs: the S3 semantics the tests give s3rver 3.7, so that the
// benchmark measures the same server the S3 tests run against).
import { createRequire } from 'node:module';

interface S3rverServer {
  run(): Promise<unknown>;
  close(): Promise<void>;
  logger: { close(): void };
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverServer;

const [portText, directory, bucket, fixes] = process.argv.slice(2);
if (!portText || !directory || !bucket || !fixes) {
  process.stderr.write('usage: s3rver-server PORT DIRECTORY BUCKET FIXES\n');
  process.exit(2);
}
const { S3rver } = createRequire(import.meta.url)(fixes) as { S3rver: S3rverClass };
const server = new S3rver({ address: '127.0.0.1', port: Number(portText), directory, silent: true, configureBuckets: [{ name: bucket }] });
// As in the tests: a request finishing after close would otherwise warn on the closed logger.
server.logger.close = () => {};
await server.run();
process.on('SIGTERM', () => {
  void server.close().finally(() => process.exit(0));
});
