/** The recogniser's character set and CTC greedy decoding. */

export interface Recognised {
  text: string;
  confidence: number;
}

/**
 * Builds the class index → character table from a PaddleOCR dictionary (one character a line): index 0 is the
 * CTC blank, index i is line i-1, and a space follows the last line (PaddleOCR's `use_space_char`). When the
 * recogniser's class count is known, it decides whether that space is there and is checked against the dictionary.
 */
export function buildCharset(dictionary: string, numClasses?: number): string[] {
  const lines = dictionary.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop(); // trailing newline
  const withSpace = ['', ...lines, ' '];
  if (numClasses === undefined || numClasses === withSpace.length) return withSpace;
  if (numClasses === withSpace.length - 1) return withSpace.slice(0, -1);
  throw new Error(
    `the OCR dictionary has ${lines.length} characters but the recogniser has ${numClasses} classes ` +
      `(expected ${lines.length + 2}: blank + characters + space)`,
  );
}

/**
 * Greedy CTC decoding of one sequence: the most likely class at each step, dropping repeats and blanks.
 * `probs` holds `steps` rows of `classes` probabilities (softmaxed), starting at `offset`.
 * Confidence is the mean probability of the kept characters (0 when none is kept).
 */
export function ctcGreedyDecode(
  probs: Float32Array,
  offset: number,
  steps: number,
  classes: number,
  charset: string[],
): Recognised {
  let text = '';
  let sum = 0;
  let kept = 0;
  let previous = -1;
  for (let t = 0; t < steps; t++) {
    const row = offset + t * classes;
    let best = 0;
    let bestP = probs[row];
    for (let c = 1; c < classes; c++) {
      if (probs[row + c] > bestP) {
        bestP = probs[row + c];
        best = c;
      }
    }
    if (best !== 0 && best !== previous) {
      text += charset[best] ?? '';
      sum += bestP;
      kept++;
    }
    previous = best;
  }
  return { text, confidence: kept === 0 ? 0 : sum / kept };
}
