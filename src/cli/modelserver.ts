/**
 * `modelserver`: --start (in the background, returning once the server answers), --foreground, --stop.
 * TorchServe's options: --ts-config, --model-store, --models (name=file.mar, file.mar, all), --ncs.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { archiverVersion } from '../archive/manifest.ts';
import { loadConfig, type ServerConfig } from '../config/config.ts';
import { isServeError } from '../errors.ts';
import { modelDirSettings } from './model-dir.ts';
import { needsRelaunch, relaunch, serverEnv, watchLauncher } from './malloc.ts';
import { defaultPidFile, describeServer, isAlive, readPidFile, removePidFile, writePidFile } from './pidfile.ts';
import { formatAddress, readFrom, reportStartupFailures } from './start-report.ts';
import { addTritonFlags, tritonFlagProperties, tritonHttpHost } from './triton-flags.ts';

interface Options {
  start?: boolean;
  stop?: boolean;
  foreground?: boolean;
  tsConfig?: string;
  modelStore?: string;
  models?: string[];
  ncs?: boolean;
  configSnapshots: boolean;
  snapshotDir: string;
  pidFile?: string;
  logFile?: string;
  startTimeout: string;
  disableTokenAuth?: boolean;
  enableModelApi?: boolean;
  modelDir?: string;
  modelName?: string;
  grpcPort?: string;
  modelRepository?: string;
  httpPort?: string;
  metricsPort?: string;
  modelControlMode?: string;
  loadModel?: string[];
  repositoryPollSecs?: string;
  strictModelConfig?: string | boolean;
  logVerbose?: string;
  strictReadiness?: string | boolean;
  workflowStore?: string;
  logConfig?: string;
  cppLogConfig?: string;
  pluginsPath?: string;
  exitOnError?: string | boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function program(): Command {
  return addTritonFlags(new Command('modelserver'))
    .description('Serve ONNX model archives (.mar) over TorchServe-compatible APIs')
    .option('--start', 'start the server in the background and return once it answers (the default action)')
    .option('--stop', 'stop the running server, letting in-flight requests finish')
    .option('--foreground', 'run in this process and log to the terminal')
    .option('--ts-config <file>', 'config.properties to read (default: ./config.properties when present)')
    .option('--model-store <dir>', 'folder holding the model archives')
    .option('--models <models...>', 'models to load: name=file.mar, file.mar, or all')
    .option('--ncs', 'no config snapshots: neither restore the last one nor write new ones')
    .option('--no-config-snapshots', 'the same as --ncs')
    .option('--snapshot-dir <dir>', 'where the model snapshot is kept', 'logs/config')
    .option('--pid-file <file>', 'pid file used by --stop (default: one per configured addresses, in the temp folder; MS_PID_FILE)')
    .option('--log-file <file>', 'with --start: where the background server logs (default: logs/modelserver.log)')
    .option('--start-timeout <s>', 'with --start: seconds to wait for the server to answer', '60')
    .option('--dt, --disable-token-auth', 'turn token authorization off (TorchServe\'s flag; disable_token_authorization=true)')
    .option('--enable-model-api', 'allow registering and unregistering models (enable_model_api=true)')
    // KServe's model servers spell these --model_dir and --model_name; both spellings work.
    .option('--model_dir, --model-dir <path>', 'serve what this folder holds (KServe\'s /mnt/models): a .mar or several, a model.onnx, a Triton model folder')
    .option('--model_name, --model-name <name>', 'with --model-dir: the name to serve its one model under (KServe\'s model name)')
    .option('--grpc-port <port>', 'port of the gRPC inference listener, Triton\'s flag (grpc_inference_port; default 7070)')
    // Triton's flags: `tritonserver --model-repository=/models` works with the binary's name changed.
    .option('--model-repository <dir>', "Triton's model repository: config.pbtxt + <version>/model.onnx folders (runs in the foreground unless --start)")
    .option('--http-port <port>', "Triton's flag: the inference port (inference_address's port)")
    .option('--metrics-port <port>', "Triton's flag: the metrics port (metrics_address's port)")
    .option('--model-control-mode <mode>', 'none (load the repository at start), poll (also follow its changes) or explicit (only --load-model and the API)')
    .option('--load-model <name...>', 'with --model-control-mode=explicit: repository models to load at start (* for all)')
    .option('--repository-poll-secs <s>', 'with --model-control-mode=poll: seconds between repository scans (default 15)')
    .option('--strict-model-config [bool]', 'repository models need a complete config.pbtxt (default false: completed from the model)')
    .option('--log-verbose <level>', "Triton's flag: 0 info, 1 or more debug")
    // TorchServe's flags for what this server does not have: accepted, with a note at start saying so.
    .option('--workflow-store <dir>', "TorchServe's workflow store (workflow_store; no workflows are served)")
    .option('--log-config <file>', "TorchServe's log4j2 file: not used (logs: MS_LOG_LEVEL, MS_LOG_FORMAT)")
    .option('--cpp-log-config <file>', "TorchServe's C++ backend log config: not used")
    .option('--ppath, --plugins-path <dir>', "TorchServe's Java plugins: not used")
    .option('--strict-readiness [bool]', "Triton's flag (strict_readiness): /ping stays Unhealthy and --start fails while a model named at start failed (default true)")
    .option('--exit-on-error [bool]', 'a repository model that fails to load at start stops the start (default true, as Triton)')
    .version(archiverVersion(), '-v, --version', 'print the version')
    .helpOption('-h, --help');
}

async function configFrom(opts: Options, quiet = false) {
  const cli: Record<string, string> = {};
  if (opts.modelStore !== undefined) cli.model_store = opts.modelStore;
  if (opts.models !== undefined) cli.load_models = opts.models.join(',');
  if (opts.disableTokenAuth) cli.disable_token_authorization = 'true';
  if (opts.enableModelApi) cli.enable_model_api = 'true';
  Object.assign(cli, await modelDirSettings(opts, (m) => process.stderr.write(`warning: ${m}\n`)));
  if (opts.grpcPort !== undefined) cli.grpc_inference_port = opts.grpcPort;
  if (opts.modelRepository !== undefined) cli.model_repository = opts.modelRepository;
  if (opts.modelControlMode !== undefined) cli.model_control_mode = opts.modelControlMode;
  if (opts.loadModel !== undefined) cli.load_model = opts.loadModel.join(',');
  if (opts.repositoryPollSecs !== undefined) cli.repository_poll_secs = opts.repositoryPollSecs;
  if (opts.exitOnError !== undefined) cli.exit_on_error = opts.exitOnError === true ? 'true' : String(opts.exitOnError);
  Object.assign(cli, tritonFlagProperties(opts as unknown as Record<string, unknown>, (m) => process.stderr.write(`warning: ${m}\n`)));
  if (opts.strictModelConfig !== undefined) cli.strict_model_config = String(opts.strictModelConfig === true ? 'true' : opts.strictModelConfig);
  if (opts.workflowStore !== undefined) cli.workflow_store = opts.workflowStore;
  if (opts.cppLogConfig !== undefined) cli.cpp_log_config = opts.cppLogConfig;
  if (opts.pluginsPath !== undefined) cli.plugins_path = opts.pluginsPath;
  if (opts.logConfig !== undefined && !quiet) {
    process.stderr.write(`note: --log-config ${opts.logConfig}: log4j2 settings have no meaning here; logs are pino lines on stderr (MS_LOG_LEVEL, MS_LOG_FORMAT; --log-file with --start)\n`);
  }
  if (opts.strictReadiness !== undefined) cli.strict_readiness = opts.strictReadiness === true ? 'true' : String(opts.strictReadiness);
  const configFile = opts.tsConfig ?? process.env.TS_CONFIG_FILE ?? (fs.existsSync('config.properties') ? 'config.properties' : undefined);
  const config = loadConfig({
    configFile,
    cli,
    env: process.env,
    warn: (m) => quiet || process.stderr.write(`warning: ${m}\n`),
    info: (m) => quiet || process.stderr.write(`note: ${m}\n`),
  });
  const ported = withPorts(config, opts);
  opts.pidFile ??= defaultPidFile([ported.inferenceAddress, ported.managementAddress, ported.metricsAddress].map(formatAddress));
  return ported;
}

/** Triton's --http-port and --metrics-port change only the port of the address configured (host stays). */
function withPorts(config: ServerConfig, opts: Options): ServerConfig {
  const port = (flag: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${flag} ${v} is not a port number (0-65535)`);
    return n;
  };
  const http = port('http-port', opts.httpPort);
  const metrics = port('metrics-port', opts.metricsPort);
  const host = tritonHttpHost(opts as unknown as Record<string, unknown>);
  if (http === undefined && metrics === undefined && host === undefined) return config;
  return Object.freeze({
    ...config,
    ...((http !== undefined || host !== undefined) && {
      inferenceAddress: { ...config.inferenceAddress, ...(http !== undefined && { port: http }), ...(host !== undefined && { host }) },
    }),
    ...(metrics !== undefined && { metricsAddress: { ...config.metricsAddress, port: metrics } }),
  });
}

/** The pid file: set by --pid-file, or by configFrom() from the configured addresses. */
const pidFileOf = (opts: Options): string => opts.pidFile!;

async function foreground(opts: Options): Promise<number> {
  const config = await configFrom(opts);
  // Readable lines in a terminal, JSON otherwise (a log file, a collector); MS_LOG_FORMAT decides when set.
  const format = (await import('../log.ts')).logFormat(process.env, process.stderr.isTTY === true);
  const pidFile = pidFileOf(opts);
  const running = readPidFile(pidFile);
  if (running && running.pid !== process.pid && isAlive(running.pid)) {
    throw new Error(`a modelserver with these addresses is already running (${describeServer(running)}; pid file ${pidFile}); stop it with --stop`);
  }
  const self = { pid: process.pid, cwd: process.cwd(), ...(config.configFile && { configFile: config.configFile }) };
  writePidFile(pidFile, self);
  // Loaded here, not at the top: `--start` and `--stop` only spawn or signal, and start faster without them.
  const [{ createLogger, flushLogs }, { readSnapshot }, { startServer }] = await Promise.all([
    import('../log.ts'),
    import('../registry/snapshot.ts'),
    import('../server.ts'),
  ]);
  process.env.MS_LOG_FORMAT = format; // worker threads format handler lines the same way
  const log = createLogger(undefined, 2, format);
  watchLauncher(() => {
    log.warn('the modelserver command that started this server has gone: stopping at once');
    flushLogs(log);
    removePidFile(pidFile);
    process.exit(1);
  });
  const snapshotDir = opts.ncs || !opts.configSnapshots ? undefined : path.resolve(opts.snapshotDir);
  // The last snapshot wins over load_models, so nothing registered is lost on restart; --models and --model-dir override it.
  const restore = snapshotDir && opts.models === undefined && opts.modelDir === undefined ? await readSnapshot(snapshotDir) : undefined;
  if (restore) log.info({ snapshot: snapshotDir, models: restore.modelCount }, 'restoring the last snapshot');
  let server;
  try {
    server = await startServer(config, { log, snapshotDir, restore });
  } catch (err) {
    flushLogs(log);
    removePidFile(pidFile);
    throw err;
  }
  writePidFile(pidFile, {
    ...self,
    inference: server.inferenceUrl,
    management: server.managementUrl,
    metrics: server.metricsUrl,
    ...(server.startupFailures.length > 0 && { failed: [...server.startupFailures] }),
    grpcInference: server.grpcInferenceTarget,
    grpcManagement: server.grpcManagementTarget,
  });
  await new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      if (signals++ === 0) {
        log.info({ signal: sig }, 'stopping: letting in-flight requests finish (a second signal stops at once)');
        resolve();
        return;
      }
      log.warn({ signal: sig }, 'stopping at once');
      flushLogs(log);
      removePidFile(pidFile);
      process.exit(1);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', onSignal); // the terminal of --foreground closed
  });
  await server.stop();
  flushLogs(log);
  removePidFile(pidFile);
  return 0;
}

/** Starts a detached foreground server and waits until it answers /ping, or reports why it could not. */
async function background(opts: Options, argv: string[]): Promise<number> {
  const config = await configFrom(opts); // refuse a bad config here, with its message, before anything starts
  const pidFile = pidFileOf(opts);
  const running = readPidFile(pidFile);
  if (running && isAlive(running.pid)) {
    process.stderr.write(`error: a modelserver with these addresses is already running (${describeServer(running)}); stop it with --stop\n`);
    return 1;
  }
  const logFile = path.resolve(opts.logFile ?? path.join('logs', 'modelserver.log'));
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const out = fs.openSync(logFile, 'a');
  const logStart = fs.fstatSync(out).size; // a failed start shows this run's lines only
  const script = fileURLToPath(import.meta.url);
  const args = [...process.execArgv, script, ...argv.filter((a) => a !== '--start'), '--foreground', '--pid-file', pidFile];
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', out, out], env: serverEnv(process.env) });
  fs.closeSync(out);
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? 1));
  const deadline = Date.now() + Number(opts.startTimeout) * 1000;
  while (Date.now() < deadline) {
    const found = readPidFile(pidFile);
    const info = found && found.pid === child.pid && found.inference ? found : undefined;
    if (info) {
      // The server writes its addresses once it has started; /ping is asked for the message only (an https
      // listener with a self-signed certificate may not answer a plain fetch).
      const res = await fetch(`${info.inference}/ping`).catch(() => undefined);
      const ping = res ? `; /ping: ${(await res.text()).trim()}` : '';
      child.unref();
      if (info.failed?.length) {
        return await reportStartupFailures(info.failed, config.strictReadiness, { pid: child.pid!, logFile, exited: () => exited !== null, started: info });
      }
      process.stdout.write(`modelserver started (pid ${child.pid}): inference ${info.inference}, management ${info.management}, metrics ${info.metrics}${ping}\n`);
      return 0;
    }
    if (exited !== null) {
      const tail = readFrom(logFile, logStart).trim().split('\n').slice(-5).join('\n');
      process.stderr.write(`error: the server exited with code ${exited} before answering:\n${tail}\n`);
      return 1;
    }
    await sleep(20);
  }
  child.kill('SIGTERM');
  process.stderr.write(`error: the server did not answer within ${opts.startTimeout} s; see ${logFile}\n`);
  return 1;
}

async function stop(opts: Options): Promise<number> {
  if (opts.pidFile === undefined) await configFrom(opts, true); // the pid file of the configured addresses
  const pidFile = pidFileOf(opts);
  const info = readPidFile(pidFile);
  if (!info || !isAlive(info.pid)) {
    fs.rmSync(pidFile, { force: true });
    process.stdout.write(`modelserver is not running (no server in ${pidFile})\n`);
    return 0;
  }
  process.kill(info.pid, 'SIGTERM');
  while (isAlive(info.pid)) await sleep(20);
  fs.rmSync(pidFile, { force: true });
  process.stdout.write(`modelserver stopped (${describeServer(info)})\n`);
  return 0;
}

export interface MainOptions {
  /** Run `--foreground` in a child process when this one lacks the server's malloc settings (see malloc.ts). */
  relaunch?: boolean;
}

export async function main(argv: string[], options: MainOptions = {}): Promise<number> {
  const cmd = program();
  cmd.exitOverride();
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (err) {
    const code = (err as { exitCode?: number }).exitCode;
    return code ?? 1;
  }
  const opts = cmd.opts<Options>();
  try {
    if (opts.stop) return await stop(opts);
    if (opts.logVerbose !== undefined && Number(opts.logVerbose) > 0) process.env.MS_LOG_LEVEL = 'debug';
    // Triton runs in the foreground: so does `modelserver --model-repository=DIR` unless --start is given.
    if (opts.foreground || (opts.modelRepository !== undefined && !opts.start)) {
      if (options.relaunch && needsRelaunch(process.env)) return await relaunch(fileURLToPath(import.meta.url), argv);
      return await foreground(opts);
    }
    return await background(opts, argv);
  } catch (err) {
    process.stderr.write(`error: ${isServeError(err) || err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
