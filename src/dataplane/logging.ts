/**
 * Triton's logging extension (`GET`/`POST /v2/logging`; gRPC LogSettings): the server's log settings in Triton's
 * shape, and changes to them at run time. Pino's levels are nested, so the settings map onto one level: verbose
 * level ≥ 1 → debug, else info, warning or error (the lowest enabled), nothing enabled → silent. The log file
 * cannot be changed over the network (Triton's rule); the format is kept as set (lines are always JSON with ISO
 * 8601 times).
 */
import { ServeError } from '../errors.ts';
import type { Logger } from '../log.ts';

export interface LogSettings {
  log_file: string;
  log_info: boolean;
  log_warning: boolean;
  log_error: boolean;
  log_verbose_level: number;
  log_format: 'default' | 'ISO8601';
}

const extra = new WeakMap<Logger, { verbose: number; format: LogSettings['log_format'] }>();

export function logSettings(log: Logger): LogSettings {
  const lvl = log.levelVal;
  const kept = extra.get(log);
  return {
    log_file: '',
    log_info: lvl <= 30,
    log_warning: lvl <= 40,
    log_error: lvl <= 50,
    log_verbose_level: lvl <= 20 ? Math.max(1, kept?.verbose ?? 1) : 0,
    log_format: kept?.format ?? 'default',
  };
}

function bool(body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new ServeError('BadRequest', `"${key}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** Applies a partial update (Triton's POST body) and answers the settings now in force. */
export function updateLogSettings(log: Logger, body: unknown): LogSettings {
  if (body === undefined) return logSettings(log);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ServeError('BadRequest', 'the logging settings must be a JSON object');
  const b = body as Record<string, unknown>;
  const known = new Set(['log_file', 'log_info', 'log_warning', 'log_error', 'log_verbose_level', 'log_format']);
  const unknown = Object.keys(b).filter((k) => !known.has(k));
  if (unknown.length > 0) throw new ServeError('BadRequest', `unknown logging setting${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}`);
  if (b.log_file !== undefined && b.log_file !== null) {
    throw new ServeError('HandlerError', 'log file location can not be updated through network protocol', { status: 501 });
  }
  const now = logSettings(log);
  const info = bool(b, 'log_info') ?? now.log_info;
  const warning = bool(b, 'log_warning') ?? now.log_warning;
  const error = bool(b, 'log_error') ?? now.log_error;
  let verbose = now.log_verbose_level;
  if (b.log_verbose_level !== undefined && b.log_verbose_level !== null) {
    const v = b.log_verbose_level;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ServeError('BadRequest', `"log_verbose_level" must be a whole number ≥ 0, got ${JSON.stringify(v)}`);
    verbose = v;
  }
  let format = now.log_format;
  if (b.log_format !== undefined && b.log_format !== null) {
    if (b.log_format !== 'default' && b.log_format !== 'ISO8601') throw new ServeError('BadRequest', `invalid argument for --log_format, got: ${String(b.log_format)}`);
    format = b.log_format;
  }
  log.level = verbose > 0 ? 'debug' : info ? 'info' : warning ? 'warn' : error ? 'error' : 'silent';
  extra.set(log, { verbose, format });
  return logSettings(log);
}
