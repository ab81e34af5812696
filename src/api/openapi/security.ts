/**
 * Token authorization in a document: each operation names the key it needs (the policy of `src/api/auth.ts`:
 * `keyFor`) and gets its 401; the open ones (health probes, the descriptions) say `security: []`. With tokens off
 * the key is optional (`[{}, {key: []}]`), so a client generated from a laptop's server can still authenticate
 * against one with tokens on.
 */
import type { KeyKind } from '../../security/tokens.ts';
import { type Api, keyFor } from '../auth.ts';
import { errorResponse, shapeOf } from './schemas.ts';
import { type Document, METHODS, type SecurityScheme } from './types.ts';

const SCHEME: Record<KeyKind, string> = { inference: 'inferenceKey', management: 'managementKey', API: 'apiKey' };

const SCHEMES: Record<string, SecurityScheme> = {
  inferenceKey: { type: 'http', scheme: 'bearer', description: 'The "inference" key of the key file (key_file.json): `Authorization: Bearer <key>`.' },
  managementKey: { type: 'http', scheme: 'bearer', description: 'The "management" key of the key file: `Authorization: Bearer <key>`.' },
  apiKey: { type: 'http', scheme: 'bearer', description: 'The "API" key of the key file, for GET /token only.' },
};

/** The description routes: served before the token check (as TorchServe's ApiDescriptionRequestHandler is). */
export const DESCRIPTION_PATHS: readonly string[] = ['/', '/api-description'];

/** Marks each operation's key: required when token authorization is on, optional when it is off. */
export function withTokens(doc: Document, api: Api, tokensOn: boolean): Document {
  const used = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const kind = DESCRIPTION_PATHS.includes(path) ? undefined : keyFor(api, path);
      if (kind === undefined) {
        op.security = [];
        continue;
      }
      used.add(SCHEME[kind]);
      op.security = tokensOn ? [{ [SCHEME[kind]]: [] }] : [{}, { [SCHEME[kind]]: [] }];
      op.responses['401'] = errorResponse(shapeOf(path), 401);
    }
  }
  doc.components.securitySchemes = Object.fromEntries([...used].sort().map((s) => [s, SCHEMES[s]]));
  return doc;
}
