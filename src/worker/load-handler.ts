/** Turns a manifest's `handler` (built-in name or `file.js[:Export]`) into a Handler instance. */
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ServeError } from '../errors.ts';
import type { Handler } from '../handler/contract.ts';
import { existsSync } from 'node:fs';
import { BUILTIN_HANDLERS, isBuiltinHandler } from '../handler/builtins.ts';
import { fileInModelDir } from './session.ts';

export interface HandlerLocation {
  handler: string;
  modelDir: string;
  builtinDir: string;
  builtinExt: string;
}

const HOOKS = ['initialize', 'preprocess', 'inference', 'postprocess', 'handle'] as const;

export async function loadHandler(loc: HandlerLocation): Promise<Handler> {
  const { url, exportName, label } = locate(loc);
  const mod = (await importModule(url)) as Record<string, unknown>;
  let exported: unknown;
  if (exportName !== undefined) {
    if (!(exportName in mod)) throw new ServeError('InvalidArchive', `handler ${label} has no export "${exportName}"`);
    exported = mod[exportName];
  } else if (mod.default !== undefined) {
    exported = mod.default;
  } else {
    exported = mod; // a module of hook functions, like TorchServe's module-level handle()
  }
  const handler = instantiate(exported);
  if (typeof handler.handle !== 'function' && typeof handler.postprocess !== 'function') {
    throw new ServeError('InvalidArchive', `handler ${label} has neither handle() nor postprocess()`);
  }
  for (const hook of HOOKS) {
    const h = (handler as Record<string, unknown>)[hook];
    if (h !== undefined && typeof h !== 'function') {
      throw new ServeError('InvalidArchive', `handler ${label}: ${hook} is not a function`);
    }
  }
  return handler;
}

function locate(loc: HandlerLocation): { url: string; exportName?: string; label: string } {
  if (isBuiltinHandler(loc.handler)) {
    return {
      url: pathToFileURL(path.join(loc.builtinDir, loc.handler + loc.builtinExt)).href,
      label: `"${loc.handler}" (built-in)`,
    };
  }
  const colon = loc.handler.lastIndexOf(':');
  const file = colon > 0 ? loc.handler.slice(0, colon) : loc.handler;
  const exportName = colon > 0 ? loc.handler.slice(colon + 1) : undefined;
  const full = fileInModelDir(loc.modelDir, file);
  if (!existsSync(full)) {
    throw new ServeError(
      'InvalidArchive',
      `handler "${loc.handler}" is neither a built-in handler (${BUILTIN_HANDLERS.join(', ')}) nor a file in the archive`,
    );
  }
  return { url: pathToFileURL(fileInModelDir(loc.modelDir, file)).href, exportName, label: `"${loc.handler}"` };
}

/**
 * Imports a handler module. Built-in handlers run from TypeScript sources under tsx (tests, development); in
 * worker threads on Node 20 tsx's ESM hook is not active, but its require hook is, so `.ts` goes through require.
 */
async function importModule(url: string): Promise<unknown> {
  if (url.endsWith('.ts')) return createRequire(import.meta.url)(fileURLToPath(url));
  return import(url);
}

function isClass(fn: Function): boolean {
  if (/^class[\s{]/.test(Function.prototype.toString.call(fn))) return true;
  const proto = fn.prototype as object | undefined;
  return proto !== undefined && HOOKS.some((h) => typeof (proto as Record<string, unknown>)[h] === 'function');
}

function instantiate(exported: unknown): Handler {
  if (typeof exported === 'function') {
    if (isClass(exported)) return new (exported as new () => Handler)();
    return { handle: exported as Handler['handle'] };
  }
  if (exported !== null && typeof exported === 'object') return exported as Handler;
  throw new ServeError('InvalidArchive', 'handler export is neither a class, a function nor an object of hooks');
}
