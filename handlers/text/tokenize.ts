/**
 * Tokenizing a batch of texts for a BERT-style model with a Hugging Face `tokenizer.json` (through
 * @huggingface/tokenizers, Hugging Face's pure JS/TS port): each text truncated to `maxLength` tokens special
 * tokens included (the text's tokens are cut, then [CLS]/[SEP] or the model's own template added, as the Rust
 * library's `truncation` does; a pair is cut longest first), padded with the pad token to the batch's longest (or to `padTo`), with an
 * attention mask and token type ids.
 */
import { Tokenizer } from '@huggingface/tokenizers';

export interface TokenizedBatch {
  /** Sequence length of every row. */
  length: number;
  ids: number[];
  attentionMask: number[];
  tokenTypeIds: number[];
  /** Each text's tokens as the model sees them (special tokens included, padding not). */
  tokens: string[][];
}

type PostProcess = (tokens: string[], pair?: string[] | null) => { tokens: string[]; tokens_pair?: string[]; token_type_ids?: number[] };

/** How many tokens of each sequence stay when `a` + `b` must fit in `room`: the longer is cut first. */
export function longestFirst(a: number, b: number, room: number): [number, number] {
  if (a + b <= room) return [a, b];
  if (a <= room / 2) return [a, room - a];
  if (b <= room / 2) return [room - b, b];
  return [Math.ceil(room / 2), Math.floor(room / 2)];
}

export class TextTokenizer {
  readonly padId: number;
  private readonly specials: number;
  private readonly pairSpecials: number;

  constructor(
    private readonly tokenizer: Tokenizer,
    json: Record<string, unknown>,
  ) {
    const padding = json.padding as { pad_id?: unknown } | null | undefined;
    const padId = typeof padding?.pad_id === 'number' ? padding.pad_id : undefined;
    this.padId = padId ?? tokenizer.token_to_id('[PAD]') ?? tokenizer.token_to_id('<pad>') ?? 0;
    this.specials = this.withSpecials([]).tokens.length;
    this.pairSpecials = this.withSpecials([], []).tokens.length;
  }

  /** Parses a tokenizer.json (and, when the archive has one, tokenizer_config.json). */
  static fromJson(json: Record<string, unknown>, config: Record<string, unknown> = {}): TextTokenizer {
    return new TextTokenizer(new Tokenizer(json, config), json);
  }

  private withSpecials(tokens: string[], pair?: string[]): { tokens: string[]; token_type_ids?: number[] } {
    const post = this.tokenizer.post_processor as unknown as PostProcess | null;
    const out = post ? post(tokens, pair ?? null) : { tokens, tokens_pair: pair };
    // Post-processors without a template hand the pair back unmerged.
    if (pair && out.tokens_pair) {
      return { tokens: [...out.tokens, ...out.tokens_pair], token_type_ids: [...out.tokens.map(() => 0), ...out.tokens_pair.map(() => 1)] };
    }
    return out;
  }

  /** One text (or a pair, e.g. question and passage) as the model's tokens, ids and token type ids. */
  encode(text: string, maxLength: number, pair?: string): { tokens: string[]; ids: number[]; typeIds: number[] } {
    const first = this.tokenizer.tokenize(text, { add_special_tokens: false });
    const second = pair === undefined ? undefined : this.tokenizer.tokenize(pair, { add_special_tokens: false });
    const room = Math.max(0, maxLength - (second ? this.pairSpecials : this.specials));
    const [keepA, keepB] = longestFirst(first.length, second?.length ?? 0, room);
    const { tokens, token_type_ids } = this.withSpecials(first.slice(0, keepA), second?.slice(0, keepB));
    const unk = this.tokenizer.token_to_id('[UNK]') ?? this.tokenizer.token_to_id('<unk>') ?? 0;
    const ids = tokens.map((t) => this.tokenizer.token_to_id(t) ?? unk);
    return { tokens, ids, typeIds: token_type_ids ?? tokens.map(() => 0) };
  }

  /** Encodes, truncates and pads a batch: row-major [texts, length]. */
  batch(texts: Array<string | [string, string]>, maxLength: number, padTo?: number): TokenizedBatch {
    const encoded = texts.map((t) => (typeof t === 'string' ? this.encode(t, maxLength) : this.encode(t[0], maxLength, t[1])));
    const length = padTo ?? Math.max(1, ...encoded.map((e) => e.ids.length));
    const ids: number[] = [];
    const attentionMask: number[] = [];
    const tokenTypeIds: number[] = [];
    for (const e of encoded) {
      for (let i = 0; i < length; i++) {
        const real = i < e.ids.length;
        ids.push(real ? e.ids[i] : this.padId);
        attentionMask.push(real ? 1 : 0);
        tokenTypeIds.push(real ? e.typeIds[i] : 0);
      }
    }
    return { length, ids, attentionMask, tokenTypeIds, tokens: encoded.map((e) => e.tokens) };
  }
}
