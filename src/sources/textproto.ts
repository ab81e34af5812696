/**
 * Protocol Buffers text format (the syntax of Triton's `config.pbtxt`), parsed into an untyped tree: each message is
 * a list of fields in file order, each field a name, the line it is on and a scalar or a nested message. Types are
 * applied afterwards against a schema (`pbschema.ts`), which knows which fields repeat, which are enums and which
 * are 64-bit.
 *
 * Covers the grammar protobuf's own TextFormat parser accepts for such files: `#` comments; `name: value`,
 * `name { … }`, `name: { … }`, `name < … >`; lists `name: [v, v]` and `name [{…}, {…}]`; `,` or `;` after a field;
 * strings in single or double quotes with C escapes, adjacent strings joined; decimal, hex and octal integers,
 * floats with an optional `f` suffix, `inf`, `nan`; identifiers (enum names, `true`/`false`).
 */

export type TextScalar =
  | { kind: 'string'; value: string }
  | { kind: 'number'; text: string }
  | { kind: 'ident'; value: string };

export interface TextField {
  name: string;
  line: number;
  value: TextScalar | TextMessage;
}

export interface TextMessage {
  kind: 'message';
  fields: TextField[];
}

export class TextFormatError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
  }
}

type Tok =
  | { t: 'punct'; v: string; line: number }
  | { t: 'ident'; v: string; line: number }
  | { t: 'number'; v: string; line: number }
  | { t: 'string'; v: string; line: number }
  | { t: 'eof'; v: ''; line: number };

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\\': '\\', "'": "'", '"': '"', '?': '?' };

function unescape(body: string, line: number): string {
  // Bytes first (\xHH and octal escapes are bytes), then decoded as UTF-8 like protobuf's string fields.
  const bytes: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== '\\') {
      const cp = body.codePointAt(i)!;
      if (cp > 0xffff) i++;
      bytes.push(...enc.encode(String.fromCodePoint(cp)));
      continue;
    }
    const e = body[++i];
    if (e === undefined) throw new TextFormatError('a string ends with a lone backslash', line);
    if (e in ESCAPES) bytes.push(ESCAPES[e].charCodeAt(0));
    else if (e === 'x' || e === 'X') {
      const m = /^[0-9a-fA-F]{1,2}/.exec(body.slice(i + 1));
      if (!m) throw new TextFormatError('\\x must be followed by hex digits', line);
      bytes.push(parseInt(m[0], 16));
      i += m[0].length;
    } else if (/[0-7]/.test(e)) {
      const m = /^[0-7]{1,3}/.exec(body.slice(i))!;
      bytes.push(parseInt(m[0], 8) & 0xff);
      i += m[0].length - 1;
    } else if (e === 'u' || e === 'U') {
      const n = e === 'u' ? 4 : 8;
      const hex = body.slice(i + 1, i + 1 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) throw new TextFormatError(`\\${e} must be followed by ${n} hex digits`, line);
      bytes.push(...enc.encode(String.fromCodePoint(parseInt(hex, 16))));
      i += n;
    } else throw new TextFormatError(`unknown escape \\${e} in a string`, line);
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let line = 1;
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === '\n') {
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') i++;
    else if (c === '#') {
      while (i < src.length && src[i] !== '\n') i++;
    } else if ('{}[]<>:,;'.includes(c)) {
      out.push({ t: 'punct', v: c, line });
      i++;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\n') throw new TextFormatError('a string is not closed before the end of the line', line);
        j += src[j] === '\\' ? 2 : 1;
      }
      if (j >= src.length) throw new TextFormatError('a string is not closed', line);
      out.push({ t: 'string', v: unescape(src.slice(i + 1, j), line), line });
      i = j + 1;
    } else {
      const m = /^-?\s*(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[fF]?|inf(?:inity)?|nan)(?![A-Za-z0-9_.])/i.exec(src.slice(i));
      if (m && (c === '-' || c === '.' || /\d/.test(c))) {
        out.push({ t: 'number', v: m[0].replace(/\s+/g, ''), line });
        i += m[0].length;
        continue;
      }
      const id = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(src.slice(i));
      if (!id) throw new TextFormatError(`unexpected character ${JSON.stringify(c)}`, line);
      out.push({ t: 'ident', v: id[0], line });
      i += id[0].length;
    }
  }
  out.push({ t: 'eof', v: '', line });
  return out;
}

class Parser {
  private at = 0;
  constructor(private readonly toks: Tok[]) {}

  private peek(): Tok {
    return this.toks[this.at];
  }
  private next(): Tok {
    return this.toks[this.at++];
  }
  private isPunct(v: string): boolean {
    const t = this.peek();
    return t.t === 'punct' && t.v === v;
  }
  private expect(v: string): void {
    const t = this.next();
    if (t.t !== 'punct' || t.v !== v) throw new TextFormatError(`expected "${v}", found ${show(t)}`, t.line);
  }

  message(end: string | null): TextMessage {
    const fields: TextField[] = [];
    for (;;) {
      const t = this.peek();
      if (end === null ? t.t === 'eof' : t.t === 'punct' && t.v === end) break;
      if (t.t === 'eof') throw new TextFormatError(`a message is not closed: expected "${end}"`, t.line);
      if (t.t === 'punct' && t.v === '[') throw new TextFormatError('extension fields ([...]) are not supported', t.line);
      if (t.t !== 'ident') throw new TextFormatError(`expected a field name, found ${show(t)}`, t.line);
      this.next();
      this.field(t.v, t.line, fields);
      if (this.isPunct(',') || this.isPunct(';')) this.next();
    }
    return { kind: 'message', fields };
  }

  private field(name: string, line: number, into: TextField[]): void {
    const colon = this.isPunct(':');
    if (colon) this.next();
    if (this.isPunct('[')) {
      this.next();
      if (this.isPunct(']')) {
        this.next();
        return; // an empty list sets nothing
      }
      for (;;) {
        const item = this.peek();
        into.push({ name, line: item.line, value: this.value(colon, true) });
        if (this.isPunct(',')) {
          this.next();
          continue;
        }
        this.expect(']');
        return;
      }
    }
    into.push({ name, line, value: this.value(colon, false) });
  }

  private value(colon: boolean, inList: boolean): TextScalar | TextMessage {
    const t = this.peek();
    if (t.t === 'punct' && (t.v === '{' || t.v === '<')) {
      this.next();
      const msg = this.message(t.v === '{' ? '}' : '>');
      this.next();
      return msg;
    }
    if (!colon && !inList) throw new TextFormatError(`expected ":" or "{" after the field name, found ${show(t)}`, t.line);
    this.next();
    if (t.t === 'string') {
      let v = t.v;
      while (this.peek().t === 'string') v += this.next().v;
      return { kind: 'string', value: v };
    }
    if (t.t === 'number') return { kind: 'number', text: t.v };
    if (t.t === 'ident') {
      // `-inf` arrives as ident-free number; a bare `inf`/`nan` is a number too.
      if (/^(inf|infinity|nan)$/i.test(t.v)) return { kind: 'number', text: t.v };
      return { kind: 'ident', value: t.v };
    }
    throw new TextFormatError(`expected a value, found ${show(t)}`, t.line);
  }
}

function show(t: Tok): string {
  if (t.t === 'eof') return 'the end of the file';
  if (t.t === 'string') return `the string ${JSON.stringify(t.v)}`;
  return `"${t.v}"`;
}

/** Parses a text-format message (a whole file); throws TextFormatError naming the line. */
export function parseTextFormat(src: string): TextMessage {
  return new Parser(tokenize(src)).message(null);
}
