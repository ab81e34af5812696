/** The inference API's OpenAPI 3.0.1 document: TorchServe's routes, KServe v1, the Open Inference Protocol v2. */
import { kserveV1Paths, oipV2Paths } from './oip.ts';
import { COMMON_SCHEMAS, descriptionPaths, info } from './schemas.ts';
import { withTokens } from './security.ts';
import { torchServeInferencePaths } from './torchserve-inference.ts';
import type { Document } from './types.ts';
import { V2_SCHEMAS } from './v2-schemas.ts';

export interface DescriptionOptions {
  /** Token authorization is on: operations name their bearer key and their 401. */
  tokens: boolean;
}

export function inferenceDocument(opts: DescriptionOptions): Document {
  const doc: Document = {
    openapi: '3.0.1',
    info: info(
      'modelserver inference API',
      'TorchServe\'s inference API for ONNX models, with KServe v1 and the Open Inference Protocol v2 (binary tensor data and ' +
        'model repository extensions). Errors are {"code","type","message"} on TorchServe\'s routes and {"error"} under /v1 and /v2.',
    ),
    tags: [
      { name: 'Description' },
      { name: 'Health' },
      { name: 'Inference', description: 'TorchServe\'s predictions API.' },
      { name: 'KServe v1' },
      { name: 'Open Inference Protocol v2' },
      { name: 'Model repository', description: 'Triton\'s model repository extension, over the model store.' },
    ],
    paths: {
      ...descriptionPaths('inference'),
      ...torchServeInferencePaths(),
      ...kserveV1Paths(),
      ...oipV2Paths(),
    },
    components: { schemas: { ...COMMON_SCHEMAS, ...V2_SCHEMAS } },
  };
  return withTokens(doc, 'inference', opts.tokens);
}
