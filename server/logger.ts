// Structured JSON logs (pino). One logger for the process; the level comes from the config.
import { pino } from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: 'stowage' } }, destination ?? pino.destination({ fd: 1, sync: false }));
}

/** A logger that drops everything, for tests and embedded use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
