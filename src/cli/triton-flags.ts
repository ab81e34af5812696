/**
 * Triton's other command-line flags, so that a `tritonserver …` command line starts with only the binary's name
 * changed: `--http-address` sets the inference host, `--disable-auto-complete-config` is
 * `--strict-model-config=true`, and the flags that tune what this server does not have (thread pools, pinned
 * memory, which protocols to open, backend settings) are accepted with a warning that they have no effect.
 * (`--model-repository`, the ports, control modes and the rest are in modelserver.ts.)
 */
import type { Command } from 'commander';

/** Accepted and ignored (with a warning): Triton's flag → why it changes nothing here. */
const IGNORED: Readonly<Record<string, string>> = {
  'allow-http': 'the HTTP endpoint is always on',
  'allow-metrics': 'the metrics endpoint is always on',
  'allow-gpu-metrics': 'there are no GPU metrics',
  'allow-cpu-metrics': 'host metrics are always exported',
  'pinned-memory-pool-byte-size': 'there is no pinned memory pool',
  'cuda-memory-pool-byte-size': 'there is no CUDA memory pool',
  'model-load-thread-count': 'models load side by side',
  'http-thread-count': 'requests are served on the event loop, inference in worker threads',
  'exit-timeout-secs': 'a graceful stop waits unregister_model_timeout',
  'id': 'the server name is fixed',
};

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export function addTritonFlags(cmd: Command): Command {
  cmd.option('--http-address <host>', "Triton's flag: the inference listener's host (non-loopback turns token authorization on)");
  cmd.option('--backend-config <setting...>', "Triton's flag: [onnxruntime,]default-max-batch-size=N is auto-complete's max_batch_size; other settings are ignored");
  cmd.option('--disable-auto-complete-config', "Triton's flag: the same as --strict-model-config=true");
  for (const [flag, why] of Object.entries(IGNORED)) cmd.option(`--${flag} [value]`, `Triton's flag, accepted without effect: ${why}`);
  return cmd;
}

/** Config properties from those flags; warns once per ignored flag given. */
export function tritonFlagProperties(opts: Record<string, unknown>, warn: (m: string) => void): Record<string, string> {
  const out: Record<string, string> = {};
  if (opts.disableAutoCompleteConfig) out.strict_model_config = 'true';
  for (const setting of (opts.backendConfig as string[] | undefined) ?? []) {
    // `<backend>,<name>=<value>` or a global `<name>=<value>`.
    const m = /^(?:([A-Za-z0-9_]+),)?([A-Za-z0-9_-]+)=(.*)$/.exec(setting);
    if (m && m[2] === 'default-max-batch-size' && (m[1] === undefined || m[1] === 'onnxruntime')) out.default_max_batch_size = m[3];
    else warn(`--backend-config=${setting} has no effect here: only [onnxruntime,]default-max-batch-size is read`);
  }
  for (const [flag, why] of Object.entries(IGNORED)) {
    if (opts[camel(flag)] !== undefined) warn(`--${flag} has no effect here: ${why}`);
  }
  return out;
}

/** `--http-address`: the host of the inference address. */
export function tritonHttpHost(opts: Record<string, unknown>): string | undefined {
  return typeof opts.httpAddress === 'string' ? opts.httpAddress : undefined;
}
