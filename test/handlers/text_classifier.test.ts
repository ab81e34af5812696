import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import TextClassifier from '../../handlers/text_classifier.ts';
import { longestFirst, TextTokenizer } from '../../handlers/text/tokenize.ts';
import type { RequestInput } from '../../src/handler/contract.ts';
import { sentimentLabels, sentimentLogits, sentimentModel, sentimentTokenizer } from '../../scripts/lib/text-models.ts';
import { makeHandlerContext, type TestHandlerContext } from '../helpers/handler-context.ts';

function request(data: unknown): RequestInput {
  return { data, body: data, fields: {}, headers: {}, query: {}, contentType: '', requestId: 'r' };
}

function softmax([a, b]: [number, number]): [number, number] {
  const m = Math.max(a, b);
  const ea = Math.exp(a - m);
  const eb = Math.exp(b - m);
  return [ea / (ea + eb), eb / (ea + eb)];
}

/** The answer the handler must give for `tokens` (what the model computes over them). */
function expected(tokens: string[]): Record<string, number> {
  const [neg, pos] = softmax(sentimentLogits(tokens));
  return { negative: neg, positive: pos };
}

describe('handlers/text_classifier', () => {
  let dir: string;
  const contexts: TestHandlerContext[] = [];
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'text-classifier-'));
  });
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.dispose()));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function setup(opts: { length?: number; modelConfig?: Record<string, unknown>; labels?: 'index' | 'config' | 'none'; tokenizer?: boolean } = {}) {
    const modelDir = path.join(dir, `m${Math.random().toString(36).slice(2)}`);
    await mkdir(modelDir);
    await writeFile(path.join(modelDir, 'model.onnx'), sentimentModel(opts.length ? { length: opts.length } : {}));
    if (opts.tokenizer !== false) await writeFile(path.join(modelDir, 'tokenizer.json'), JSON.stringify(sentimentTokenizer()));
    const labels = opts.labels ?? 'index';
    if (labels === 'index') await writeFile(path.join(modelDir, 'index_to_name.json'), JSON.stringify(sentimentLabels()));
    if (labels === 'config') await writeFile(path.join(modelDir, 'config.json'), JSON.stringify({ id2label: { 0: 'NEG', 1: 'POS' } }));
    const ctx = await makeHandlerContext({ modelDir, serializedFile: 'model.onnx', modelConfig: opts.modelConfig });
    contexts.push(ctx);
    const handler = new TextClassifier();
    await handler.initialize(ctx);
    return { handler, ctx };
  }

  it('tokenizes with the tokenizer.json (lower-cased WordPiece, [CLS] … [SEP]) and unknown words as [UNK]', () => {
    const t = TextTokenizer.fromJson(sentimentTokenizer());
    expect(t.encode('The films were GREAT!', 512).tokens).to.deep.equal(['[CLS]', 'the', 'film', '##s', '[UNK]', 'great', '!', '[SEP]']);
    expect(t.padId).to.equal(0);
  });

  it('encodes a pair as [CLS] a [SEP] b [SEP] with token types 0 then 1, cutting the longer first', () => {
    const t = TextTokenizer.fromJson(sentimentTokenizer());
    const e = t.encode('good movie', 512, 'bad plot');
    expect(e.tokens).to.deep.equal(['[CLS]', 'good', 'movie', '[SEP]', 'bad', 'plot', '[SEP]']);
    expect(e.typeIds).to.deep.equal([0, 0, 0, 0, 1, 1, 1]);
    expect(t.encode('good good good good', 6, 'bad bad bad').tokens).to.deep.equal(['[CLS]', 'good', 'good', '[SEP]', 'bad', '[SEP]']);
    // Longest first, one token at a time from the longer (ties from the second), as the Rust library.
    for (const [a, b, room] of [[4, 3, 3], [10, 1, 5], [1, 10, 5], [3, 3, 4], [2, 2, 9]]) {
      let [x, y] = [a, b];
      while (x + y > room) if (x > y) x--; else y--;
      expect(longestFirst(a, b, room), `${a},${b} in ${room}`).to.deep.equal([x, y]);
    }
  });

  it('classifies a pair sent as {"text", "text_pair"}', async () => {
    const { handler, ctx } = await setup();
    const [r, bad] = (await handler.handle([request({ text: 'great', text_pair: 'boring boring' }), request({ text: 'x', text_pair: 3 })], ctx)) as Array<Record<string, number>>;
    expect(r.negative).to.be.closeTo(expected(['great', 'boring', 'boring']).negative, 1e-6);
    expect((bad as unknown as Error).message).to.match(/text_pair/);
  });

  it("answers TorchServe's {label: probability}, most probable first, from the model's logits", async () => {
    const { handler, ctx } = await setup();
    const [good, bad] = (await handler.handle([request('A great, fun movie!'), request(Buffer.from('boring and bad, the worst plot'))], ctx)) as Array<Record<string, number>>;
    expect(Object.keys(good)).to.deep.equal(['positive', 'negative']);
    const want = expected(['great', 'fun']);
    expect(good.positive).to.be.closeTo(want.positive, 1e-6);
    expect(good.negative).to.be.closeTo(want.negative, 1e-6);
    expect(Object.keys(bad)).to.deep.equal(['negative', 'positive']);
    expect(bad.negative).to.be.closeTo(expected(['boring', 'bad', 'worst']).negative, 1e-6);
  });

  it('pads a batch to its longest text with an attention mask, so padding changes nothing', async () => {
    const { handler, ctx } = await setup();
    const long = 'bad '.repeat(30) + 'good';
    const results = (await handler.handle([request('good'), request(long), request({ text: 'great fun' })], ctx)) as Array<Record<string, number>>;
    // Unmasked, [PAD] would count 5 towards negative per padded position.
    expect(results[0].positive).to.be.closeTo(expected(['good']).positive, 1e-6);
    expect(results[1].negative).to.be.closeTo(expected([...Array(30).fill('bad'), 'good']).negative, 1e-6);
    expect(results[2].positive).to.be.closeTo(expected(['great', 'fun']).positive, 1e-6);
  });

  it("truncates at max_length from the model config, and at the model's fixed sequence length", async () => {
    const text = 'good good good bad bad bad bad bad';
    const { handler, ctx } = await setup({ modelConfig: { max_length: 5 } });
    const [cut] = (await handler.handle([request(text)], ctx)) as Array<Record<string, number>>;
    expect(cut.positive).to.be.closeTo(expected(['good', 'good', 'good']).positive, 1e-6); // [CLS] good good good [SEP]
    const { handler: whole, ctx: c2 } = await setup();
    const [all] = (await whole.handle([request(text)], c2)) as Array<Record<string, number>>;
    expect(Object.keys(all)[0]).to.equal('negative');
    // A model exported with a fixed length of 6: truncated to 6 and padded to 6 (masked).
    const { handler: fixed, ctx: c3 } = await setup({ length: 6 });
    const [f1, f2] = (await fixed.handle([request(text), request('fun')], c3)) as Array<Record<string, number>>;
    expect(f1.positive).to.be.closeTo(expected(['good', 'good', 'good', 'bad']).positive, 1e-6);
    expect(f2.positive).to.be.closeTo(expected(['fun']).positive, 1e-6);
  });

  it('labels from config.json id2label without index_to_name.json; topk keeps the best', async () => {
    const { handler, ctx } = await setup({ labels: 'config', modelConfig: { topk: 1 } });
    const [r] = await handler.handle([request('love it')], ctx);
    expect(Object.keys(r as object)).to.deep.equal(['POS']);
  });

  it('answers an empty or non-text request with a 400 for that request only, and needs tokenizer.json', async () => {
    const { handler, ctx } = await setup();
    const results = await handler.handle([request(''), request({ n: 1 }), request('fun')], ctx);
    expect((results[0] as { status: number; message: string }).message).to.match(/empty/);
    expect((results[1] as { status: number; message: string }).status).to.equal(400);
    expect(Object.keys(results[2] as object)[0]).to.equal('positive');
    let err: Error | undefined;
    await setup({ tokenizer: false }).catch((e: Error) => (err = e));
    expect(err?.message).to.match(/no tokenizer\.json/);
  });

  it('takes a v2 request of texts and answers probabilities and labels', async () => {
    const { handler, ctx } = await setup();
    const v2 = { inputs: [{ name: 'text', datatype: 'BYTES', shape: [2], data: [Buffer.from('great'), Buffer.from('awful awful')] }] };
    const [r] = (await handler.handle([request(v2)], ctx)) as Array<{ outputs: Array<{ name: string; shape: number[]; data: unknown[] }> }>;
    const [probs, labels] = r.outputs;
    expect(probs.shape).to.deep.equal([2, 2]);
    const want = [...softmax(sentimentLogits(['great'])), ...softmax(sentimentLogits(['awful', 'awful']))];
    (probs.data as number[]).forEach((p, i) => expect(p).to.be.closeTo(want[i], 1e-6));
    expect(labels.data).to.deep.equal(['positive', 'negative']);
  });
});
