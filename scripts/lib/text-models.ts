/**
 * A BERT-shaped sentiment model over a tiny vocabulary, built with onnx-proto, and the Hugging Face
 * `tokenizer.json` (BERT normaliser, pre-tokeniser, WordPiece, [CLS] … [SEP]) that goes with it. Its answer is
 * known: logits = Σ over unmasked tokens of the token's vector, positive words [0, 1], negative words [1, 0],
 * everything else [0, 0] except [PAD], which is [5, 0] so that padding the model sees unmasked shows.
 * Inputs `input_ids`, `attention_mask`, `token_type_ids` int64 [N, L] (L free unless `length`), output `logits`
 * float32 [N, 2]; classes 0 negative, 1 positive.
 */
import onnxProto from 'onnx-proto';
import { FLOAT, floatInit, intAttr, model, node, valueInfo } from './onnx-models.ts';

const INT64 = onnxProto.onnx.TensorProto.DataType.INT64;

const SPECIAL = ['[PAD]', '[UNK]', '[CLS]', '[SEP]'];
const POSITIVE = ['good', 'great', 'love', 'excellent', 'fun'];
const NEGATIVE = ['bad', 'awful', 'hate', 'boring', 'worst'];
const OTHER = ['the', 'movie', 'film', 'plot', 'was', 'is', 'it', 'a', 'not', 'i', 'this', '##s', '##ly', '.', ',', '!'];
export const SENTIMENT_VOCAB = [...SPECIAL, ...POSITIVE, ...NEGATIVE, ...OTHER];

export function sentimentLabels(): Record<string, string> {
  return { '0': 'negative', '1': 'positive' };
}

/** The model's logits for a token sequence (for tests): what the graph computes. */
export function sentimentLogits(tokens: string[]): [number, number] {
  let neg = 0;
  let pos = 0;
  for (const t of tokens) {
    if (POSITIVE.includes(t)) pos++;
    if (NEGATIVE.includes(t)) neg++;
    if (t === '[PAD]') neg += 5;
  }
  return [neg, pos];
}

export function sentimentModel({ length = 'L' as number | string } = {}): Uint8Array {
  const emb = SENTIMENT_VOCAB.flatMap((t) => (POSITIVE.includes(t) ? [0, 1] : NEGATIVE.includes(t) ? [1, 0] : t === '[PAD]' ? [5, 0] : [0, 0]));
  const int64 = (name: string, dims: number[], values: number[]) => ({ name, dims, dataType: INT64, int64Data: values });
  return model('sentiment', {
    input: [
      valueInfo('input_ids', ['N', length], INT64),
      valueInfo('attention_mask', ['N', length], INT64),
      valueInfo('token_type_ids', ['N', length], INT64),
    ],
    output: [valueInfo('logits', ['N', 2])],
    initializer: [floatInit('emb', [SENTIMENT_VOCAB.length, 2], emb), int64('zero', [], [0]), int64('axis1', [1], [1]), int64('axis2', [1], [2])],
    node: [
      // token_type_ids · 0 + input_ids: the input is read, as BERT reads it, without changing the answer.
      node('Mul', ['token_type_ids', 'zero'], ['tt0']),
      node('Add', ['input_ids', 'tt0'], ['ids']),
      node('Gather', ['emb', 'ids'], ['vectors'], [intAttr('axis', 0)]), // [N, L, 2]
      node('Cast', ['attention_mask'], ['maskf'], [intAttr('to', FLOAT)]),
      node('Unsqueeze', ['maskf', 'axis2'], ['mask3']),
      node('Mul', ['vectors', 'mask3'], ['masked']),
      node('ReduceSum', ['masked', 'axis1'], ['logits'], [intAttr('keepdims', 0)]),
    ],
  });
}

/** The tokenizer.json of {@link sentimentModel} (a BERT uncased tokenizer over its vocabulary). */
export function sentimentTokenizer(): Record<string, unknown> {
  const vocab = Object.fromEntries(SENTIMENT_VOCAB.map((t, i) => [t, i]));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

