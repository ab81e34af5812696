/**
 * What to tell a client whose request holds no image: what arrived instead, and the exact ways to send one.
 * The common case is `curl --data-binary @x.jpg` without a type, which sends the bytes as form-urlencoded text.
 */
import type { RequestInput } from '../../src/handler/contract.ts';

const HOW = "send it with -H 'Content-Type: image/jpeg' (or image/png), with curl -T x.jpg, or as a form field: -F data=@x.jpg";

/** The request's own Content-Type (not the type of the field the server picked as `data`). */
function sentType(req: RequestInput): string {
  return String(req.headers?.['content-type'] ?? '').split(';')[0].trim().toLowerCase();
}

/** A message when the image arrived as form-urlencoded fields (so whatever `data` holds is not the image). */
export function formEncodedImage(req: RequestInput): string | undefined {
  if (sentType(req) !== 'application/x-www-form-urlencoded' || 'data' in (req.fields ?? {})) return undefined;
  return `no image in the request: the body arrived as application/x-www-form-urlencoded form fields (what curl --data-binary sends unless told otherwise); ${HOW}`;
}

/** A message for a request with no image at all. */
export function noImage(req: RequestInput): string {
  const encoded = formEncodedImage(req);
  if (encoded) return encoded;
  const type = sentType(req);
  const fields = Object.keys(req.fields ?? {});
  const got = type === '' ? 'an empty body' : `${type}${fields.length ? ` with fields ${fields.slice(0, 5).join(', ')} but none named "data"` : ''}`;
  return `no image in the request (got ${got}); ${HOW}`;
}
