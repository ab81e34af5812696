/**
 * MAR-INF/MANIFEST.json: validation of a manifest read from an archive, and creation of a new one, with
 * TorchServe's field names (reference/torchserve.md §1).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServeError, type ErrorKind } from '../errors.ts';
import type { Manifest } from '../handler/contract.ts';
import { BUILTIN_HANDLERS, isBuiltinHandler } from '../handler/builtins.ts';

export const MANIFEST_PATH = 'MAR-INF/MANIFEST.json';

export const MODEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_\-.]*$/;

/** File extensions a handler file may have (it is loaded as an ES module). */
export const HANDLER_EXTENSIONS = ['.js', '.mjs'] as const;

const EXPORT_NAME = /^[A-Za-z_$][\w$]*$/;

export type HandlerSpec = { builtin: string } | { file: string; exportName?: string };

/** `image_classifier` → built-in; `handler.js:MyHandler` → file and export; `handler.js` → file only. */
export function parseHandlerSpec(handler: string): HandlerSpec {
  if (isBuiltinHandler(handler)) return { builtin: handler };
  const colon = handler.lastIndexOf(':');
  if (colon > 0 && EXPORT_NAME.test(handler.slice(colon + 1))) {
    return { file: handler.slice(0, colon), exportName: handler.slice(colon + 1) };
  }
  return { file: handler };
}

/** Longest model name: it becomes a URL segment, a folder name and a metric label. */
export const MAX_MODEL_NAME_LENGTH = 128;

/** Why `name` is not a valid model name, or undefined when it is. */
export function modelNameProblem(name: string): string | undefined {
  if (name.length > MAX_MODEL_NAME_LENGTH) {
    return `model name "${name.slice(0, 32)}…" is ${name.length} characters long; at most ${MAX_MODEL_NAME_LENGTH} are allowed`;
  }
  if (MODEL_NAME_PATTERN.test(name)) return undefined;
  return `model name ${JSON.stringify(name)} is not allowed: use letters, digits, "_", "-" and ".", starting with a letter or digit`;
}

/**
 * Why `p` is not a plain relative file name inside an archive (forward slashes, no absolute path, no drive
 * letter, no `.` or `..` or empty segments), or undefined when it is one.
 */
export function relativeFileProblem(p: string): string | undefined {
  if (p === '') return 'is empty';
  if (p.includes('\0')) return 'contains a NUL character';
  if (p.includes('\\')) return `"${p}" contains a backslash`;
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) return `"${p}" is an absolute path`;
  const segments = p.split('/');
  if (segments.includes('..')) return `"${p}" leaves the archive (has a ".." segment)`;
  if (segments.some((s) => s === '' || s === '.')) return `"${p}" is not a plain relative file name`;
  return undefined;
}

function fail(kind: ErrorKind, source: string, message: string): never {
  throw new ServeError(kind, source === '' ? message : `${source}: ${message}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalString(obj: Record<string, unknown>, key: string, where: string, source: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') fail('InvalidArchive', source, `${MANIFEST_PATH}: ${where}${key} must be a string`);
  return v;
}

function checkFile(kind: ErrorKind, source: string, field: string, value: string): void {
  const problem = relativeFileProblem(value);
  if (problem !== undefined) fail(kind, source, `${field} ${problem}`);
}

/** Checks a handler value; `field` names it in messages (e.g. `model.handler` or `--handler`). */
export function checkHandler(kind: ErrorKind, source: string, field: string, handler: string): void {
  if (handler === '') fail(kind, source, `${field} must not be empty`);
  const spec = parseHandlerSpec(handler);
  if ('builtin' in spec) return;
  checkFile(kind, source, field, spec.file);
  if (!HANDLER_EXTENSIONS.some((ext) => spec.file.endsWith(ext))) {
    fail(
      kind,
      source,
      `${field} "${handler}" is neither a built-in handler (${BUILTIN_HANDLERS.join(', ')}) ` +
        `nor a ${HANDLER_EXTENSIONS.join('/')} file`,
    );
  }
}

/** Validates a parsed MANIFEST.json; `source` (the archive's path) starts every message. */
export function validateManifest(json: unknown, source: string): Manifest {
  if (!isObject(json)) fail('InvalidArchive', source, `${MANIFEST_PATH} is not a JSON object`);
  const model = json.model;
  if (!isObject(model)) fail('InvalidArchive', source, `${MANIFEST_PATH}: "model" must be an object`);
  const str = (key: string) => optionalString(model, key, 'model.', source);

  const modelName = str('modelName');
  if (modelName === undefined) fail('InvalidArchive', source, `${MANIFEST_PATH}: model.modelName is missing`);
  const nameProblem = modelNameProblem(modelName);
  if (nameProblem) fail('InvalidArchive', source, `${MANIFEST_PATH}: model.modelName: ${nameProblem}`);
  const modelVersion = str('modelVersion');
  if (!modelVersion) fail('InvalidArchive', source, `${MANIFEST_PATH}: model.modelVersion is missing or empty`);
  const handler = str('handler');
  if (!handler) fail('InvalidArchive', source, `${MANIFEST_PATH}: model.handler is missing or empty`);
  checkHandler('InvalidArchive', source, `${MANIFEST_PATH}: model.handler`, handler);

  const out: Manifest = {
    createdOn: optionalString(json, 'createdOn', '', source) ?? '',
    runtime: optionalString(json, 'runtime', '', source) ?? '',
    archiverVersion: optionalString(json, 'archiverVersion', '', source) ?? '',
    model: { modelName, modelVersion, handler },
  };
  for (const key of ['serializedFile', 'configFile', 'modelFile', 'requirementsFile'] as const) {
    const v = str(key);
    if (v === undefined || v === '') continue;
    checkFile('InvalidArchive', source, `${MANIFEST_PATH}: model.${key}`, v);
    out.model[key] = v;
  }
  const extensions = str('extensions');
  if (extensions) out.model.extensions = extensions;
  return out;
}

/** The files a manifest names that must be present in its archive (built-in handlers excluded). */
export function filesNamedBy(manifest: Manifest): { field: string; file: string }[] {
  const m = manifest.model;
  const files: { field: string; file: string }[] = [];
  for (const key of ['serializedFile', 'configFile', 'modelFile', 'requirementsFile'] as const) {
    const v = m[key];
    if (v) files.push({ field: `model.${key}`, file: v });
  }
  const spec = parseHandlerSpec(m.handler);
  if ('file' in spec) files.push({ field: 'model.handler', file: spec.file });
  return files;
}

let cachedVersion: string | undefined;

/** The version in the nearest package.json above this file (the project's: works from src/ and dist/src/). */
export function archiverVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: unknown };
      if (typeof pkg.version === 'string') return (cachedVersion = pkg.version);
    } catch {
      // no (readable) package.json here: keep looking upwards
    }
    const up = path.dirname(dir);
    if (up === dir) return (cachedVersion = '0.0.0');
    dir = up;
  }
}

/** TorchServe's `%d/%m/%Y %H:%M:%S`, in local time. */
export function formatCreatedOn(date: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    `${p(date.getDate())}/${p(date.getMonth() + 1)}/${date.getFullYear()} ` +
    `${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}`
  );
}

export interface CreateManifestOptions {
  modelName: string;
  version: string;
  /** A built-in name, or `file.js[:Export]` relative to the archive root. */
  handler: string;
  serializedFile?: string;
  configFile?: string;
  requirementsFile?: string;
  /** Defaults to now. */
  createdOn?: Date;
}

/** A new manifest; throws BadRequest (naming the option) for an invalid name, version, handler or file. */
export function createManifest(opts: CreateManifestOptions): Manifest {
  const src = ''; // messages name the option instead
  const nameProblem = modelNameProblem(opts.modelName);
  if (nameProblem) fail('BadRequest', src, `--model-name: ${nameProblem}`);
  if (!opts.version) fail('BadRequest', src, '--version must not be empty');
  checkHandler('BadRequest', src, '--handler', opts.handler);
  const model: Manifest['model'] = { modelName: opts.modelName, modelVersion: opts.version, handler: opts.handler };
  const files = [
    ['serializedFile', '--serialized-file'],
    ['configFile', '--config-file'],
    ['requirementsFile', '--requirements-file'],
  ] as const;
  for (const [key, option] of files) {
    const v = opts[key];
    if (!v) continue;
    checkFile('BadRequest', src, option, v);
    model[key] = v;
  }
  return {
    createdOn: formatCreatedOn(opts.createdOn ?? new Date()),
    runtime: 'node',
    archiverVersion: archiverVersion(),
    model,
  };
}
