/** Structured JSON logs (pino) with levels; `MS_LOG_LEVEL` or `--log-level` choose the level. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level = process.env.MS_LOG_LEVEL ?? 'info', destination: number = 2): Logger {
  return pino({ level, base: { name: 'modelserver' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: destination, sync: true }));
}
