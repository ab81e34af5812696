/**
 * Handler bugs said so they can be found: where (the handler's file and line) and the stack, in the log at error
 * level, once per distinct error per worker (a flood of failing requests logs one line, not one per request).
 * The client keeps the short message.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ErrorLogger {
  error(msg: string, extra?: Record<string, unknown>): void;
}

const FRAME = /\(?((?:file:\/\/)?\/[^\s():]+):(\d+):(\d+)\)?/;

/** `handler.js:12:7` for the first stack frame inside `modelDir` (the archive's handler files). */
function frameOf(stack: string, modelDir: string): string | undefined {
  for (const line of stack.split('\n').slice(1)) {
    const m = FRAME.exec(line);
    if (!m || line.includes('node:')) continue;
    const file = m[1].startsWith('file://') ? fileURLToPath(m[1]) : m[1];
    const rel = path.relative(modelDir, file);
    if (!rel.startsWith('..') && !path.isAbsolute(rel)) return `${rel}:${m[2]}:${m[3]}`;
  }
  return undefined;
}

/**
 * Node reports a syntax error in an ES module without its file or line; V8's own check says both. Run only when
 * a handler fails to import, so the child process costs nothing on the request path.
 */
export function syntaxErrorAt(file: string): { at: string; excerpt: string } | undefined {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    execFileSync(process.execPath, ['--input-type=module', '--check'], { input: source, stdio: ['pipe', 'ignore', 'pipe'], timeout: 10_000 });
    return undefined;
  } catch (err) {
    const out = String((err as { stderr?: Buffer }).stderr ?? '');
    const m = /^\[stdin\]:(\d+)\n([^\n]*)\n([^\n]*)\n/.exec(out);
    if (!m) return undefined;
    return { at: `${path.basename(file)}:${m[1]}`, excerpt: `${m[2]}\n${m[3]}` };
  }
}

/** Where an error happened, for messages: `handler.js:12:7`, or undefined when the stack says nothing useful. */
export function locate(err: unknown, modelDir: string): string | undefined {
  return err instanceof Error && typeof err.stack === 'string' ? frameOf(err.stack, modelDir) : undefined;
}

/** Logs each distinct error once per worker (by message and place), with its stack. */
export class ErrorReporter {
  private readonly seen = new Set<string>();

  constructor(private readonly log: ErrorLogger, private readonly modelDir: string) {}

  report(err: unknown, what: string, extra: Record<string, unknown> = {}): void {
    const message = err instanceof Error ? err.message : String(err);
    const at = (extra.at as string | undefined) ?? locate(err, this.modelDir);
    const key = `${what}\u0000${message}\u0000${at ?? ''}`;
    if (this.seen.has(key)) return;
    if (this.seen.size >= 1000) this.seen.clear(); // bounded: a handler that puts ids in its messages
    this.seen.add(key);
    const stack = err instanceof Error ? err.stack : undefined;
    this.log.error(`${what}: ${message}${at ? ` (at ${at})` : ''}`, { error: message, ...(at && { at }), ...(stack && { stack }), ...extra });
  }
}
