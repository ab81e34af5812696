/**
 * Built-in `text_classifier` handler for BERT-style ONNX models (inputs `input_ids`, `attention_mask` and, when
 * the model has it, `token_type_ids`; output the logits [N, classes]: the output named `logits`, else the first) with the Hugging Face `tokenizer.json`
 * they were trained with among the archive's extra files (`tokenizer_config.json` too, if there is one).
 *
 * A batch is tokenized in the worker (`text/tokenize.ts`), truncated at the model's length (its fixed sequence
 * dimension, else `max_length` from the model config, else tokenizer_config's `model_max_length`, else 512) and
 * padded to the longest text of the batch (to the fixed length when the model has one), then run once.
 * Answer: TorchServe's `{label: probability}` (softmax), every class, most probable first (`topk` in the model
 * config keeps fewer); `multi_label: true` uses a sigmoid per class instead. Labels from `index_to_name.json`,
 * else config.json's `id2label`, else the class index.
 *
 * Request: the text as the body (text/plain), or JSON `{"text": …}` / `{"data": …}` / `{"inputs": …}` or a JSON
 * string; `{"text": …, "text_pair": …}` for a pair (NLI, cross-encoder rerankers), cut longest first. KServe v2: one BYTES input of texts; outputs `probabilities` FP32 [B, classes] and `labels` BYTES [B].
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import type { Handler, HandlerContext, RequestInput } from '../src/handler/contract.ts';
import { parseLabels } from './image_classifier.ts';
import { v2Elements, v2Request, type V2Output } from './common/v2.ts';
import { TextTokenizer } from './text/tokenize.ts';

const DEFAULT_MAX_LENGTH = 512;

type Meta = { name: string; isTensor?: boolean; type?: string; shape?: ReadonlyArray<number | string> };

async function readJson(dir: string, file: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dir, file), 'utf8')) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`text_classifier: ${file}: ${(err as Error).message}`);
  }
}

/** The text of a request (a pair with JSON `text_pair`); throws a message for a bad one. */
export function requestText(req: RequestInput): string | [string, string] {
  let value: unknown = req.data ?? req.body;
  let pair: unknown;
  if (value instanceof Uint8Array) value = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    value = obj.text ?? obj.data ?? obj.inputs ?? obj.body;
    pair = obj.text_pair;
  }
  if (typeof value !== 'string') throw new Error('send the text as the body, or as JSON {"text": "..."}');
  if (value.trim() === '') throw new Error('the text is empty');
  if (pair === undefined) return value;
  if (typeof pair !== 'string' || pair.trim() === '') throw new Error('"text_pair" must be a non-empty string');
  return [value, pair];
}

export default class TextClassifier implements Handler {
  readonly acceptsV2Requests = true;
  private session!: InferenceSession;
  private tokenizer!: TextTokenizer;
  private labels = new Map<number, string>();
  private maxLength = DEFAULT_MAX_LENGTH;
  private fixedLength?: number;
  private batched = true;
  private inputs!: { ids: string; mask?: string; types?: string; type: 'int64' | 'int32' };
  private topk?: number;
  private multiLabel = false;
  private outputName = 'logits';

  async initialize(ctx: HandlerContext): Promise<void> {
    if (!ctx.session) throw new Error('text_classifier needs a model: the archive has no serializedFile');
    this.session = ctx.session;
    this.outputName = ctx.session.outputNames.includes('logits') ? 'logits' : ctx.session.outputNames[0];
    const json = await readJson(ctx.modelDir, 'tokenizer.json');
    if (!json) throw new Error('text_classifier: the archive has no tokenizer.json (add it with --extra-files)');
    const tokenizerConfig = (await readJson(ctx.modelDir, 'tokenizer_config.json')) ?? {};
    this.tokenizer = TextTokenizer.fromJson(json, tokenizerConfig);
    await this.readLabels(ctx);
    this.readInputs();
    const cfg = ctx.modelConfig;
    const configured = cfg.max_length ?? tokenizerConfig.model_max_length;
    if (cfg.max_length !== undefined && !(Number.isInteger(cfg.max_length) && (cfg.max_length as number) >= 2)) {
      throw new Error(`text_classifier: max_length must be an integer of at least 2, got ${JSON.stringify(cfg.max_length)}`);
    }
    // tokenizer_config.json says 1e30 when it has no limit.
    if (typeof configured === 'number' && configured >= 2 && configured <= 1_000_000) this.maxLength = Math.floor(configured);
    if (this.fixedLength !== undefined) this.maxLength = Math.min(this.maxLength, this.fixedLength);
    if (cfg.topk !== undefined) {
      if (!(Number.isInteger(cfg.topk) && (cfg.topk as number) > 0)) throw new Error(`text_classifier: topk must be a positive integer, got ${JSON.stringify(cfg.topk)}`);
      this.topk = cfg.topk as number;
    }
    this.multiLabel = cfg.multi_label === true;
    ctx.logger.info('text_classifier ready', { maxLength: this.maxLength, labels: this.labels.size, padId: this.tokenizer.padId });
  }

  private async readLabels(ctx: HandlerContext): Promise<void> {
    const index = await readJson(ctx.modelDir, 'index_to_name.json');
    const id2label = (await readJson(ctx.modelDir, 'config.json'))?.id2label;
    if (index) this.labels = parseLabels(index);
    else if (id2label && typeof id2label === 'object') this.labels = parseLabels(id2label);
  }

  private readInputs(): void {
    let meta: Meta[] = [];
    try {
      meta = this.session.inputMetadata as Meta[];
    } catch {
      meta = [];
    }
    const names = this.session.inputNames;
    const find = (re: RegExp) => names.find((n) => re.test(n));
    const ids = find(/input_ids|^ids$|input/i) ?? names[0];
    const m = meta.find((x) => x.name === ids);
    const type = m?.type === 'int32' ? 'int32' : 'int64';
    this.inputs = { ids, mask: find(/attention_mask|mask/i), types: find(/token_type|segment/i), type };
    const known = [ids, this.inputs.mask, this.inputs.types];
    const other = names.find((n) => !known.includes(n));
    if (other) throw new Error(`text_classifier: cannot feed the model's input "${other}" (it takes input_ids, attention_mask, token_type_ids)`);
    const [n, length] = m?.shape ?? [];
    if (typeof length === 'number' && length > 0) this.fixedLength = length;
    this.batched = typeof n !== 'number';
  }

  async handle(requests: RequestInput[], ctx: HandlerContext): Promise<unknown[]> {
    const results: unknown[] = new Array(requests.length);
    const texts: Array<{ request: number; text: string | [string, string] }> = [];
    requests.forEach((req, i) => {
      try {
        const v2 = v2Request(req);
        const list: Array<string | [string, string]> = v2 ? v2Elements(v2, 'texts').map((e) => Buffer.from(e.buffer, e.byteOffset, e.byteLength).toString('utf8')) : [requestText(req)];
        for (const text of list) texts.push({ request: i, text });
      } catch (err) {
        results[i] = new ctx.HandlerError(400, (err as Error).message);
      }
    });
    const probabilities: number[][] = [];
    const runs = this.batched ? (texts.length ? [texts] : []) : texts.map((t) => [t]);
    for (const run of runs) probabilities.push(...(await this.classify(run.map((t) => t.text), ctx)));
    requests.forEach((req, i) => {
      if (results[i] !== undefined) return;
      const rows = texts.flatMap((t, k) => (t.request === i ? [probabilities[k]] : []));
      results[i] = v2Request(req) ? { outputs: this.v2Outputs(rows) } : this.format(rows[0]);
    });
    return results;
  }

  /** One run: probabilities per text. */
  private async classify(texts: Array<string | [string, string]>, ctx: HandlerContext): Promise<number[][]> {
    const batch = this.tokenizer.batch(texts, this.maxLength, this.fixedLength);
    const dims = [texts.length, batch.length];
    const tensor = (values: number[]) =>
      this.inputs.type === 'int32'
        ? new ctx.Tensor('int32', Int32Array.from(values), dims)
        : new ctx.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims);
    const feeds: Record<string, InstanceType<typeof ctx.Tensor>> = { [this.inputs.ids]: tensor(batch.ids) };
    if (this.inputs.mask) feeds[this.inputs.mask] = tensor(batch.attentionMask);
    if (this.inputs.types) feeds[this.inputs.types] = tensor(batch.tokenTypeIds);
    const out = (await this.session.run(feeds, [this.outputName]))[this.outputName];
    if (!out || !(out.data instanceof Float32Array) || out.dims.length !== 2 || out.dims[0] !== texts.length) {
      throw new Error(`text_classifier: output "${this.outputName}" is ${out?.type} [${out?.dims.join(',')}]; expected float32 [N, classes]`);
    }
    const classes = out.dims[1];
    const data = out.data;
    return texts.map((_, row) => {
      const logits = Array.from(data.subarray(row * classes, (row + 1) * classes));
      if (this.multiLabel) return logits.map((v) => 1 / (1 + Math.exp(-v)));
      const max = Math.max(...logits);
      const exps = logits.map((v) => Math.exp(v - max));
      const sum = exps.reduce((a, b) => a + b, 0);
      return exps.map((e) => e / sum);
    });
  }

  private label(index: number): string {
    return this.labels.get(index) ?? String(index);
  }

  /** `{label: probability}`, most probable first (JavaScript keeps integer-like labels in ascending order). */
  private format(probs: number[]): Record<string, number> {
    const order = probs.map((p, i) => [i, p] as const).sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    return Object.fromEntries(order.slice(0, this.topk ?? order.length).map(([i, p]) => [this.label(i), p]));
  }

  private v2Outputs(rows: number[][]): V2Output[] {
    const classes = rows[0].length;
    const best = rows.map((r) => this.label(r.indexOf(Math.max(...r))));
    return [
      { name: 'probabilities', datatype: 'FP32', shape: [rows.length, classes], data: rows.flat() },
      { name: 'labels', datatype: 'BYTES', shape: [rows.length], data: best },
    ];
  }
}
