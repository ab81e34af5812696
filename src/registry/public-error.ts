/**
 * Registration errors as a client may see them: never with a path of the server's (model store, scratch folder,
 * extraction folder). Archive errors name the archive as the client gave it; a file-system error that is not
 * ours (EEXIST, ENOENT, ENOSPC, ...) becomes a 500 that names the archive and the error code only.
 */
import { ServeError } from '../errors.ts';

export function withoutServerPaths(err: unknown, url: string, paths: Array<[string, string]>): ServeError {
  if (err instanceof ServeError) {
    let message = err.message;
    // Longest first, so that a folder inside another is replaced before its parent.
    for (const [p, label] of [...paths].sort((a, b) => b[0].length - a[0].length)) message = message.split(p).join(label);
    return message === err.message ? err : new ServeError(err.kind, message, { status: err.status, cause: err });
  }
  const code = (err as NodeJS.ErrnoException)?.code;
  return new ServeError('InternalServerError', `cannot register "${url}": ${code ?? 'unexpected error'} while extracting it`, { cause: err });
}
