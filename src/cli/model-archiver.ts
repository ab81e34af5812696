/**
 * `model-archiver`: TorchServe's torch-model-archiver options, packing an ONNX model and a handler into a
 * `.mar`. `main(argv)` takes the arguments after the program name and returns the exit code.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { packArchive, type PackOptions } from '../archive/pack.ts';
import { torchServeOnly } from './torchserve-options.ts';

export interface CliIO {
  out(text: string): void;
  err(text: string): void;
}

const PROCESS_IO: CliIO = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

interface ArchiverArgs {
  modelName: string;
  version: string;
  serializedFile?: string;
  handler: string;
  extraFiles?: string;
  exportPath: string;
  archiveFormat: NonNullable<PackOptions['archiveFormat']>;
  configFile?: string;
  force?: boolean;
  modelFile?: string;
  requirementsFile?: string;
  runtime?: string;
}

function buildProgram(io: CliIO): Command {
  return new Command('model-archiver')
    .description('Pack an ONNX model and its handler into a model archive (.mar) for modelserver')
    .requiredOption('--model-name <name>', 'model name; must match ^[A-Za-z0-9][A-Za-z0-9_\\-.]*$')
    .requiredOption('-v, --version <version>', 'model version, e.g. 1.0')
    .option('--serialized-file <path>', 'the serialized model, e.g. model.onnx')
    .requiredOption('--handler <handler>', 'a built-in handler name, or path/to/handler.js[:ExportName]')
    .option('--extra-files <paths>', 'comma-separated files or folders to add (a folder adds its contents)')
    .option('--export-path <dir>', 'where to write the archive (default: the current directory)')
    .addOption(
      new Option('--archive-format <format>', 'default (zip), zip-store (uncompressed zip) or no-archive (a folder)')
        .choices(['default', 'zip-store', 'no-archive'])
        .default('default'),
    )
    .option('-c, --config-file <path>', 'model-config YAML')
    .option('-f, --force', 'overwrite an existing archive')
    .option('--model-file <path>', "TorchServe's Python model definition: not used here (see the message)")
    .option('--requirements-file <path>', "TorchServe's pip requirements: not used here (see the message)")
    .option('--runtime <runtime>', 'node (the only runtime; TorchServe: python)')
    .helpOption('-h, --help', 'show this help')
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
}

function splitList(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Runs the archiver on `argv` (without node and the script); returns the exit code. */
export async function main(argv: string[], io: CliIO = PROCESS_IO): Promise<number> {
  const program = buildProgram(io);
  try {
    program.parse(argv, { from: 'user' });
  } catch (e) {
    // commander has already printed its message (or the help)
    if (e instanceof CommanderError) return e.exitCode;
    throw e;
  }
  const args = program.opts<ArchiverArgs>();
  try {
    const refusal = await torchServeOnly(args);
    if (refusal) {
      io.err(`error: ${refusal}\n`);
      return 1;
    }
    const written = await packArchive({
      modelName: args.modelName,
      version: args.version,
      serializedFile: args.serializedFile,
      handler: args.handler,
      extraFiles: splitList(args.extraFiles),
      exportPath: args.exportPath ?? process.cwd(),
      archiveFormat: args.archiveFormat,
      configFile: args.configFile,
      force: args.force === true,
    });
    io.out(`${written}\n`);
    return 0;
  } catch (e) {
    io.err(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(path.resolve(script)) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  process.exitCode = await main(process.argv.slice(2));
}
