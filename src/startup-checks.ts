/**
 * Start-up problems said in the user's terms: the setting that named a port in use or a missing model store, and
 * what to do next (instead of Node's raw EADDRINUSE or `ENOENT: scandir`).
 */
import fs from 'node:fs/promises';
import type { Address, ServerConfig } from './config/config.ts';
import { ServeError } from './errors.ts';

/** EADDRINUSE and friends, said with the setting that named the address and what to do. */
export function listenError(err: NodeJS.ErrnoException, setting: string, addr: Address): Error {
  const where = `${setting} ${addr.scheme}://${addr.host}:${addr.port}`;
  if (err.code === 'EADDRINUSE') {
    return new ServeError('BadRequest', `${where}: port ${addr.port} is already in use (another modelserver? stop it with \`modelserver --stop\`), or set ${setting} to a free port`, { cause: err });
  }
  if (err.code === 'EACCES') {
    return new ServeError('BadRequest', `${where}: not allowed to listen on port ${addr.port} (ports below 1024 need privileges); set ${setting} to another port`, { cause: err });
  }
  if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') {
    return new ServeError('BadRequest', `${where}: host ${addr.host} is not an address of this machine; set ${setting} to one (127.0.0.1, 0.0.0.0)`, { cause: err });
  }
  return err;
}

/** A configured model store that is not a folder stops the start, naming the setting that set it. */
export async function checkModelStore(config: ServerConfig): Promise<void> {
  if (config.modelStore === undefined) return;
  const st = await fs.stat(config.modelStore).catch(() => undefined);
  if (st?.isDirectory()) return;
  const source = config.sources.model_store ?? 'configuration';
  const by = source === 'command line' ? '--model-store' : `model_store (${source})`;
  throw new ServeError('BadRequest', `the model store ${config.modelStore} named by ${by} ${st ? 'is not a folder' : 'does not exist'}: create it, or point ${by} at the folder holding your .mar files`);
}
