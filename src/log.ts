/**
 * Structured JSON logs (pino) with levels; `MS_LOG_LEVEL` chooses the level. Lines look like
 * `{"level":30,"time":"2026-…Z","name":"modelserver",…,"msg":"…"}`; child loggers add a `component`
 * (`access` for access-log lines, `handler` for lines written by handlers in worker threads).
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * A logger writing to `destination`: a file descriptor (default 2, stderr, written synchronously) or a stream
 * (tests capture lines this way).
 */
export function createLogger(
  level = process.env.MS_LOG_LEVEL ?? 'info',
  destination: number | DestinationStream = 2,
): Logger {
  const dest = typeof destination === 'number' ? pino.destination({ dest: destination, sync: true }) : destination;
  return pino({ level, base: { name: 'modelserver' }, timestamp: pino.stdTimeFunctions.isoTime }, dest);
}
