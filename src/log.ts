/**
 * Structured JSON logs (pino) with levels; `MS_LOG_LEVEL` chooses the level. Lines look like
 * `{"level":30,"time":"2026-…Z","name":"modelserver",…,"msg":"…"}`; child loggers add a `component`
 * (`access` for access-log lines, `handler` for lines written by handlers in worker threads).
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * A logger writing to `destination`: a file descriptor (default 2, stderr) or a stream (tests capture lines this
 * way). File descriptors are written asynchronously: a line goes out at once when nothing else is being written,
 * and lines that arrive meanwhile go out together, so the access log costs the event loop no blocking write per
 * request. `flushLogs` writes what is pending (before exit).
 */
export function createLogger(
  level = process.env.MS_LOG_LEVEL ?? 'info',
  destination: number | DestinationStream = 2,
): Logger {
  const dest = typeof destination === 'number' ? pino.destination({ dest: destination, sync: false }) : destination;
  return pino({ level, base: { name: 'modelserver' }, timestamp: pino.stdTimeFunctions.isoTime }, dest);
}

/** Writes any lines still buffered, synchronously (call before process.exit). */
export function flushLogs(log: Logger): void {
  try {
    log.flush();
  } catch {
    // nothing to flush, or a stream without flush: fine
  }
}
