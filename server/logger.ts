// Structured JSON logs (pino). One logger for the process; the level comes from the config.
import { pino } from 'pino';

export type Logger = pino.Logger;

interface Destination {
  flushSync(): void;
  write(line: string): boolean;
  // sonic-boom's state: a write in progress, and bytes buffered behind it. Its flush(callback)
  // calls back at once without writing when minLength is 0 (pino's default), so it cannot say
  // when the lines are out.
  _writing?: boolean;
  _len?: number;
}

/** The stdout destination of each logger createLogger made, for flushBeforeExit. */
const destinations = new WeakMap<Logger, Destination>();

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const out = destination ?? pino.destination({ fd: 1, sync: false });
  const logger = pino({ level, base: { service: 'stowage' } }, out);
  if (!destination) destinations.set(logger, out as unknown as Destination);
  return logger;
}

/**
 * Before process.exit: waits up to ms for the logger's buffered lines to reach stdout, then
 * drops whatever is left. pino flushes once more synchronously on exit, and when stdout is a
 * pipe nobody reads (closed: `stowage serve | head -1`, or full) sonic-boom retries that write
 * for ever and the process never exits, deaf to further signals.
 */
export function flushBeforeExit(logger: Logger, ms: number): Promise<void> {
  const out = destinations.get(logger);
  if (!out) return Promise.resolve();
  const deadline = Date.now() + ms;
  return new Promise((resolve) => {
    const check = () => {
      if ((out._writing || (out._len ?? 0) > 0) && Date.now() < deadline) {
        setTimeout(check, 5);
        return;
      }
      out.write = () => true;
      out.flushSync = () => {};
      resolve();
    };
    check();
  });
}

/** A logger that drops everything, for tests and embedded use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
