/**
 * Structured JSON logs (pino) with levels; `MS_LOG_LEVEL` chooses the level. Lines look like
 * `{"level":30,"time":"2026-…Z","name":"modelserver",…,"msg":"…"}`; child loggers add a `component`
 * (`access` for access-log lines, `handler` for lines written by handlers in worker threads).
 */
import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

type Sink = ReturnType<typeof pino.destination>;

/**
 * Lines written within one turn of the event loop go to the file descriptor together, in one write, at the end of
 * that turn (setImmediate): under load the access lines of a whole batch cost one write instead of one each, and
 * pino's destination (sonic-boom) no longer re-measures a growing buffer per line. A quiet server still writes a
 * line in the turn it was logged.
 */
class Coalescing implements DestinationStream {
  private lines: string[] = [];
  private scheduled = false;

  constructor(readonly sink: Sink) {
    pending.add(new WeakRef(this));
  }

  write(line: string): void {
    this.lines.push(line);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.release);
  }

  /** Hands the lines of this turn to the destination. */
  readonly release = (): void => {
    this.scheduled = false;
    if (this.lines.length === 0) return;
    const text = this.lines.length === 1 ? this.lines[0] : this.lines.join('');
    this.lines = [];
    this.sink.write(text);
  };

  /** pino's `logger.flush(cb)`. */
  flush(cb?: (err?: Error) => void): void {
    this.release();
    this.sink.flush(cb);
  }

  flushSync(): void {
    this.release();
    this.sink.flushSync();
  }
}

/** Lines still waiting for their turn to end are written when the process exits. */
const pending = new Set<WeakRef<Coalescing>>();
process.once('exit', () => {
  for (const ref of pending) {
    try {
      ref.deref()?.flushSync();
    } catch {
      // a closed descriptor: nothing more can be written
    }
  }
});

/** pino's ISO time, formatted once per millisecond (a batch's access lines share their millisecond). */
let lastMs = -1;
let lastTime = '';
function isoTime(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

/**
 * A logger writing to `destination`: a file descriptor (default 2, stderr) or a stream (tests capture lines this
 * way). File descriptors are written asynchronously: the lines of one event-loop turn go out together at its end,
 * and lines that arrive while a write is in progress go out together next, so the access log costs the event loop
 * no blocking write per request. `flushLogs` writes what is pending (before exit).
 */
export function createLogger(
  level = process.env.MS_LOG_LEVEL ?? 'info',
  destination: number | DestinationStream = 2,
  format: LogFormat = 'json',
): Logger {
  if (format === 'pretty' && typeof destination === 'number') {
    return pino({ level, base: { name: 'modelserver' } }, prettyStream(destination));
  }
  const dest = typeof destination === 'number' ? new Coalescing(pino.destination({ dest: destination, sync: false })) : destination;
  return pino({ level, base: { name: 'modelserver' }, timestamp: isoTime }, dest);
}

export type LogFormat = 'json' | 'pretty';

/**
 * `MS_LOG_FORMAT` (json or pretty) when set, else pretty exactly when `tty` (the terminal of --foreground): JSON
 * for log files and collectors, readable lines for people.
 */
export function logFormat(env: NodeJS.ProcessEnv, tty: boolean): LogFormat {
  const v = env.MS_LOG_FORMAT?.trim().toLowerCase();
  if (v === 'json' || v === 'pretty') return v;
  if (v) throw new Error(`MS_LOG_FORMAT = "${env.MS_LOG_FORMAT}" is not allowed: expected json or pretty`);
  return tty ? 'pretty' : 'json';
}

/** Readable, coloured lines (pino-pretty, loaded only in this mode): time, level, message, then the fields. */
export function prettyStream(fd: number): DestinationStream {
  const { PinoPretty } = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
  return PinoPretty({ destination: fd, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name', singleLine: false });
}

/** Writes any lines still buffered, synchronously (call before process.exit). */
export function flushLogs(log: Logger): void {
  try {
    log.flush();
  } catch {
    // nothing to flush, or a stream without flush: fine
  }
}
