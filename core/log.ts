import { pino, type Logger } from 'pino';

export type { Logger };

/** The service's root logger: JSON lines on stdout, one child per call carrying its call id. */
export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: 'switchboard' } }, destination);
}

/** A logger that drops everything, for library use and tests that do not look at logs. */
export const silentLogger: Logger = pino({ level: 'silent' });
