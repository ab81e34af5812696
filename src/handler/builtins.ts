/** Names of the handlers that ship in `handlers/`; a manifest's `handler` may name one instead of a file. */
export const BUILTIN_HANDLERS = [
  'image_classifier',
  'object_detector',
  'image_segmenter',
  'text_classifier',
  'ocr',
  'tensor',
] as const;
export type BuiltinHandler = (typeof BUILTIN_HANDLERS)[number];

export function isBuiltinHandler(name: string): name is BuiltinHandler {
  return (BUILTIN_HANDLERS as readonly string[]).includes(name);
}
