/**
 * Java properties syntax (what TorchServe's `config.properties` is written in), TorchServe's `$$NAME$$`
 * environment substitution, and the parsers of scalar values. A parser takes the trimmed text of a value and
 * returns the typed value, or throws `Invalid` whose message says what is allowed ("expected ..."); the
 * loader adds the source, key and value to that message. Parsing is delegated to `dot-properties`, which handles `#`/`!` comments, the
 * `=`, `:` and whitespace separators, backslash escapes, `\uXXXX` escapes and continuation lines.
 */
import dotProperties from 'dot-properties';
import { ServeError } from '../errors.ts';

/**
 * Parses properties text into a flat record. Keys keep their dots (no nesting); a repeated key takes its last
 * value, as `java.util.Properties` does. Values are returned as written (leading whitespace removed by the
 * syntax, trailing whitespace kept); validation trims where it matters.
 */
export function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const line of dotProperties.parseLines(text)) {
    if (Array.isArray(line)) out[line[0]] = line[1];
  }
  return out;
}

/** Same pattern as TorchServe: `$$` + one or more characters other than `$` + `$$`. */
const ENV_REF = /\$\$([^$]+)\$\$/g;

export interface SubstituteWhere {
  /** The property whose value is substituted, named in the error. */
  key: string;
  /** Where the value came from (usually the config file path), named in the error. */
  source?: string;
}

/**
 * Replaces every `$$NAME$$` in `value` with `env[NAME]`. A variable that is not set (undefined) is an error
 * naming the key and the variable; a variable set to the empty string substitutes as empty, as in TorchServe.
 */
export function substituteEnv(value: string, env: NodeJS.ProcessEnv, where?: SubstituteWhere): string {
  return value.replace(ENV_REF, (_match, name: string) => {
    const v = env[name];
    if (v === undefined) {
      const prefix = where ? `${where.source ? `${where.source}: ` : ''}${where.key} = ${JSON.stringify(value)}: ` : '';
      throw new ServeError('BadRequest', `${prefix}environment variable ${name} (referenced as $$${name}$$) is not set`);
    }
    return v;
  });
}

/** Thrown by a parser; the message says what is allowed ("expected ..."). */
export class Invalid extends Error {}

export type Parser<T> = (text: string) => T;

const INT = /^[0-9]+$/;

export const nonNegativeInt: Parser<number> = (s) => {
  const n = Number(s);
  if (!INT.test(s) || !Number.isSafeInteger(n)) throw new Invalid('expected a non-negative integer');
  return n;
};

export const positiveInt: Parser<number> = (s) => {
  const n = Number(s);
  if (!INT.test(s) || !Number.isSafeInteger(n) || n < 1) throw new Invalid('expected a positive integer');
  return n;
};

export const positiveNumber: Parser<number> = (s) => {
  const n = Number(s);
  if (!/^[0-9]*\.?[0-9]+$/.test(s) || !(n > 0) || !Number.isFinite(n)) throw new Invalid('expected a positive number');
  return n;
};

export const bool: Parser<boolean> = (s) => {
  const l = s.toLowerCase();
  if (l === 'true') return true;
  if (l === 'false') return false;
  throw new Invalid('expected true or false');
};

/** A non-empty string, kept as written (trimmed). */
export const text: Parser<string> = (s) => {
  if (s === '') throw new Invalid('expected a non-empty value');
  return s;
};

export function oneOf<T extends string>(...allowed: T[]): Parser<T> {
  return (s) => {
    const l = s.toLowerCase();
    const hit = allowed.find((a) => a === l);
    if (hit === undefined) throw new Invalid(`expected one of ${allowed.join(', ')}`);
    return hit;
  };
}
