import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * The one logger. JSON lines (one per event, for people on call to tail and for machines
 * to parse); pretty-printed when standard output is a terminal. HIGHWAY_LOG_LEVEL sets the level.
 */
export function createLogger(options: { level?: string; pretty?: boolean; name?: string; destination?: 1 | 2 } = {}): Logger {
  const fd = options.destination ?? 1;
  const level = options.level ?? process.env['HIGHWAY_LOG_LEVEL'] ?? 'info';
  const stream = fd === 2 ? process.stderr : process.stdout;
  const pretty = options.pretty ?? (stream.isTTY === true && process.env['HIGHWAY_LOG_FORMAT'] !== 'json');
  const base: LoggerOptions = {
    name: options.name ?? 'highway-docker',
    level,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  if (pretty) {
    return pino({
      ...base,
      transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss.l', destination: fd } },
    });
  }
  return pino(base, pino.destination({ fd, sync: false }));
}

/** A logger that drops everything (library default when the caller brings none). */
export const silentLogger: Logger = pino({ level: 'silent' });
