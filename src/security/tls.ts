/**
 * TLS for listeners whose address is `https://…`, with the PEM files of `private_key_file` and
 * `certificate_file` (TorchServe's keys; the certificate file may hold the chain). The files are read once at
 * start, so a bad path or a key that does not match the certificate refuses the start with a message.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createSecureContext } from 'node:tls';
import { ServeError } from '../errors.ts';
import type { Address } from '../config/keys.ts';

export interface TlsFiles {
  readonly key: Buffer;
  readonly cert: Buffer;
}

export interface TlsSettings {
  readonly privateKeyFile?: string;
  readonly certificateFile?: string;
}

function read(key: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ServeError('BadRequest', `cannot read ${key} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** The key and certificate when some listener uses https (or gRPC uses TLS: `grpc`), else undefined. */
export function loadTls(c: TlsSettings, addresses: readonly Address[], grpc = false): TlsFiles | undefined {
  if (!grpc && !addresses.some((a) => a.scheme === 'https')) return undefined;
  if (c.privateKeyFile === undefined || c.certificateFile === undefined) {
    throw new ServeError('BadRequest', `${grpc ? 'enable_grpc_ssl=true' : 'an https address'} needs private_key_file and certificate_file`);
  }
  const files = { key: read('private_key_file', c.privateKeyFile), cert: read('certificate_file', c.certificateFile) };
  try {
    createSecureContext(files);
  } catch (err) {
    throw new ServeError(
      'BadRequest',
      `private_key_file ${c.privateKeyFile} and certificate_file ${c.certificateFile} are not a usable PEM key and certificate pair: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return files;
}

/** An http or https server for one listener; `options` are the http.Server options both take (e.g. a ServerResponse class). */
export function createListener(handler: http.RequestListener, addr: Address, tls: TlsFiles | undefined, options: http.ServerOptions = {}): http.Server {
  if (addr.scheme !== 'https') return http.createServer(options, handler);
  if (!tls) throw new ServeError('BadRequest', `${addr.host}:${addr.port} uses https but no key and certificate were loaded`);
  return https.createServer({ ...options, key: tls.key, cert: tls.cert }, handler);
}
