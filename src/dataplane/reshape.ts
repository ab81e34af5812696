/**
 * Triton's `reshape` on inputs and outputs: the client speaks the config's `dims` (after the batch dimension when
 * `max_batch_size > 0`), the model runs on `reshape.shape`. An input given in the config's dims is checked against
 * them and handed to the model reshaped (same elements, row-major, so only the shape changes); an output comes
 * back in the config's dims.
 */
import { ServeError } from '../errors.ts';
import type { WireTensor } from '../pool/messages.ts';
import type { ModelVersion } from '../registry/model-version.ts';
import { fmtShape } from './codec.ts';
import type { ParsedInfer } from './request.ts';

const fits = (want: number[], got: number[]) => want.length === got.length && want.every((d, i) => d === -1 || d === got[i]);

/** Concrete shape for `target` from the elements per batch entry (one -1 is solved for). */
function solve(target: number[], elements: number): number[] {
  const known = target.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  return target.map((d) => (d === -1 ? (known === 0 ? 0 : elements / known) : d));
}

export function reshapeInputs(req: ParsedInfer, mv: ModelVersion): void {
  const cfg = mv.triton?.config;
  if (!cfg) return;
  const batched = (cfg.max_batch_size ?? 0) > 0;
  for (const input of req.inputs) {
    const t = cfg.input?.find((x) => x.name === input.name);
    if (!t?.reshape || !t.dims) continue;
    const lead = batched ? input.shape.slice(0, 1) : [];
    const rest = batched ? input.shape.slice(1) : input.shape;
    if (batched && input.shape.length === 0) continue; // the model check says what is wrong
    if (!fits(t.dims, rest)) {
      throw new ServeError('BadRequest', `input "${input.name}": model "${mv.name}" expects shape ${fmtShape([...(batched ? [-1] : []), ...t.dims])}, got ${fmtShape(input.shape)}`);
    }
    const elements = rest.reduce((a, b) => a * b, 1);
    input.shape = [...lead, ...solve(t.reshape.shape ?? [], elements)];
  }
}

export function reshapeOutputs(tensors: WireTensor[], mv: ModelVersion): WireTensor[] {
  const cfg = mv.triton?.config;
  if (!cfg?.output?.some((o) => o.reshape)) return tensors;
  const batched = (cfg.max_batch_size ?? 0) > 0;
  return tensors.map((t) => {
    const o = cfg.output?.find((x) => x.name === t.name);
    if (!o?.reshape || !o.dims) return t;
    const lead = batched ? t.shape.slice(0, 1) : [];
    const elements = (batched ? t.shape.slice(1) : t.shape).reduce((a, b) => a * b, 1);
    return { ...t, shape: [...lead, ...solve(o.dims, elements)] };
  });
}
