import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServeError } from '../../src/errors.ts';
import { autoWorkers, intraOpThreadsFor, loadConfig, type LoadConfigOptions } from '../../src/config/config.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('config/loadConfig', () => {
  let dir: string, file: string, warnings: string[], infos: string[];
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ms-config-'));
    file = path.join(dir, 'config.properties');
    [warnings, infos] = [[], []];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const load = (props: string | undefined, opts: LoadConfigOptions = {}) => {
    if (props !== undefined) writeFileSync(file, props);
    return loadConfig({
      configFile: props === undefined ? undefined : file, env: {}, cpuCount: 8, cwd: dir,
      warn: (m) => warnings.push(m), info: (m) => infos.push(m), ...opts,
    });
  };
  /** Expects loading to fail with a BadRequest ServeError whose message includes every part. */
  const refuses = (props: string | undefined, parts: string[], opts: LoadConfigOptions = {}) => {
    let err: unknown;
    try { load(props, opts); } catch (e) { err = e; }
    expect(err).to.be.instanceOf(ServeError);
    expect((err as ServeError).kind).to.equal('BadRequest');
    for (const p of parts) expect((err as ServeError).message).to.include(p);
  };

  it('has TorchServe defaults and our departures, deeply frozen', () => {
    const c = load(undefined);
    expect(c.inferenceAddress).to.deep.equal({ scheme: 'http', host: '127.0.0.1', port: 8080 });
    expect([c.managementAddress.port, c.metricsAddress.port]).to.deep.equal([8081, 8082]);
    expect(c).to.include({
      configFile: undefined, modelStore: undefined, workflowStore: undefined, loadModels: undefined,
      jobQueueSize: 100, maxRequestSize: 6553500, maxResponseSize: 6553500, defaultResponseTimeout: 120,
      defaultStartupTimeout: 120, unregisterModelTimeout: 120, batchSize: 1, maxBatchDelay: 100,
      intraOpThreads: 0, defaultWorkersPerModel: 4, cpuCount: 8, enableModelApi: true, enableEnvvarsConfig: false,
      enableMetricsApi: true, metricsMode: 'prometheus', disableTokenAuthorization: undefined,
      decodeInputRequest: true, limitMaxImagePixels: true, numberOfGpu: 0, allowedUrlsModelStoreOnly: true,
      metricTimeInterval: 60, tokenExpirationMin: 60, corsAllowedOrigin: undefined, privateKeyFile: undefined,
    });
    expect([c.allowedUrls, c.models, c.properties, warnings]).to.deep.equal([[], {}, {}, []]);
    expect([Object.isFrozen(c), Object.isFrozen(c.inferenceAddress)]).to.deep.equal([true, true]);
  });

  describe('precedence', () => {
    const file3 = 'enable_envvars_config=true\njob_queue_size=10\n';
    it('command line > environment > file > default', () => {
      const env = { MS_JOB_QUEUE_SIZE: '20' };
      expect(load(file3, { env, cli: { job_queue_size: '30' } }).jobQueueSize).to.equal(30);
      expect(load(file3, { env }).jobQueueSize).to.equal(20);
      expect(load(file3).jobQueueSize).to.equal(10);
      expect(load('enable_envvars_config=true\n').jobQueueSize).to.equal(100);
    });

    it('reads the environment only with enable_envvars_config=true', () => {
      const env = { MS_JOB_QUEUE_SIZE: '20', TS_BATCH_SIZE: '4' };
      expect(load('job_queue_size=10\n', { env })).to.include({ jobQueueSize: 10, batchSize: 1, enableEnvvarsConfig: false });
      expect(load(undefined, { env })).to.include({ jobQueueSize: 100 });
      expect(load(undefined, { env: { ...env, TS_ENABLE_ENVVARS_CONFIG: 'TRUE' } })).to.include({ jobQueueSize: 20, batchSize: 4 });
      expect(load(undefined, { env: { ...env, MS_ENABLE_ENVVARS_CONFIG: 'true' } }).enableEnvvarsConfig).to.equal(true);
      expect(load(undefined, { env, cli: { enable_envvars_config: 'true' } }).jobQueueSize).to.equal(20);
    });

    it('accepts MS_ and TS_ spellings; MS_ wins', () => {
      const base = { MS_ENABLE_ENVVARS_CONFIG: 'true' };
      expect(load(undefined, { env: { ...base, TS_MAX_BATCH_DELAY: '7' } }).maxBatchDelay).to.equal(7);
      expect(load(undefined, { env: { ...base, TS_MAX_BATCH_DELAY: '7', MS_MAX_BATCH_DELAY: '9' } }).maxBatchDelay).to.equal(9);
      expect(load(undefined, { env: { ...base, TS_DISABLE_TOKEN_AUTHORIZATION: 'true' } }).disableTokenAuthorization).to.equal(true);
    });

    it('takes allowed_urls from the environment only with use_env_allowed_urls=true', () => {
      const env = { MS_ENABLE_ENVVARS_CONFIG: 'true', TS_ALLOWED_URLS: 'https://env/.*' };
      const c1 = load('allowed_urls=file://.*\n', { env });
      expect(c1.allowedUrls[0].test('https://env/x.mar')).to.equal(false);
      expect(warnings).to.deep.equal([
        'environment variable TS_ALLOWED_URLS is ignored: set use_env_allowed_urls=true to take allowed_urls from the environment',
      ]);
      const c2 = load('allowed_urls=file://.*\nuse_env_allowed_urls=true\n', { env });
      expect(c2.allowedUrls[0].test('https://env/x.mar')).to.equal(true);
      expect(c2.properties.allowed_urls).to.equal('https://env/.*');
    });

    it('records the effective text of every key set', () => {
      const c = load('job_queue_size=10\nvmargs=-Xmx1g\n', { cli: { model_store: 'ms' } });
      expect(c.properties).to.deep.equal({ job_queue_size: '10', vmargs: '-Xmx1g', model_store: 'ms' });
    });
  });

  it('substitutes $$NAME$$ in file values and refuses unset variables', () => {
    const c = load('model_store=$$STORE_ROOT$$/models\ninference_address=http://$$H$$:1234\n', { env: { STORE_ROOT: '/srv', H: '0.0.0.0' } });
    expect(c.modelStore).to.equal(path.resolve('/srv/models'));
    expect(c.inferenceAddress).to.deep.equal({ scheme: 'http', host: '0.0.0.0', port: 1234 });
    refuses('model_store=$$MS_TEST_UNSET_VAR$$\n', [`${file}: model_store`, 'MS_TEST_UNSET_VAR', 'is not set']);
  });

  it('resolves paths against the config file folder, else the working directory', () => {
    const c = load('model_store=store\nprivate_key_file=k.pem\ncertificate_file=/abs/c.pem\n');
    expect(c.configFile).to.equal(file);
    expect(c).to.include({
      modelStore: path.join(dir, 'store'), workflowStore: path.join(dir, 'store'),
      privateKeyFile: path.join(dir, 'k.pem'), certificateFile: path.resolve('/abs/c.pem'),
    });
    const other = path.join(dir, 'cwd');
    expect(load('model_store=store\n', { cwd: other, cli: { model_store: 'cli-store' } }).modelStore).to.equal(path.join(other, 'cli-store'));
    expect(load('workflow_store=wf\n').workflowStore).to.equal(path.join(dir, 'wf'));
  });

  it('refuses a config file it cannot read', () => {
    refuses(undefined, ['cannot read config file', 'missing.properties', 'does not exist (check --ts-config'], { configFile: path.join(dir, 'missing.properties') });
  });

  describe('keys', () => {
    it('warns about unknown keys and goes on', () => {
      const c = load('foo=1\njob_queue_size=5\n', { cli: { bar: 'x' } });
      expect(c.jobQueueSize).to.equal(5);
      expect(warnings).to.deep.equal([`unknown key 'foo' in ${file} (ignored)`, "unknown key 'bar' on the command line (ignored)"]);
      expect(c.properties).to.not.have.property('foo');
    });

    it('accepts TorchServe keys it does not use: silently, or with an info', () => {
      load('vmargs=-Xmx4g\nnumber_of_netty_threads=4\nsnapshot_store=FS\nkeystore=ks.p12\nservice_envelope=json\n');
      expect(warnings).to.deep.equal([]);
      expect(infos).to.have.length(2);
      expect(infos[0]).to.equal(`key 'keystore' in ${file} is a TorchServe setting modelserver does not use (ignored)`);
    });
  });

  describe('validation messages', () => {
    it('name the source, key, value and what is allowed', () => {
      refuses('job_queue_size=abc\n', [`${file}: job_queue_size = "abc" is not allowed: expected a positive integer`]);
      refuses(undefined, ['command line: batch_size = "0" is not allowed: expected a positive integer'], { cli: { batch_size: '0' } });
      refuses(undefined, ['environment variable MS_MAX_REQUEST_SIZE: max_request_size = "1k" is not allowed: expected a positive integer'],
        { env: { MS_ENABLE_ENVVARS_CONFIG: 'true', MS_MAX_REQUEST_SIZE: '1k' } });
    });

    it('one per value type', () => {
      refuses('default_workers_per_model=-1\n', ['default_workers_per_model = "-1" is not allowed: expected a non-negative integer']);
      refuses('token_expiration_min=soon\n', ['token_expiration_min = "soon" is not allowed: expected a positive number']);
      refuses('enable_metrics_api=yes\n', ['enable_metrics_api = "yes" is not allowed: expected true or false']);
      refuses('enable_envvars_config=1\n', ['enable_envvars_config = "1" is not allowed: expected true or false']);
      refuses('metrics_mode=csv\n', ['metrics_mode = "csv" is not allowed: expected one of prometheus, log, legacy']);
      refuses('cors_allowed_origin=\n', ['cors_allowed_origin = "" is not allowed: expected a non-empty value']);
      refuses('load_models=all,a.mar\n', ['load_models = "all,a.mar" is not allowed: expected "all" alone']);
      refuses('load_models==a.mar\n', ['load_models = "=a.mar" is not allowed', 'has an empty name']);
      refuses('load_models=n=\n', ['load_models = "n=" is not allowed', 'has no file']);
      refuses('allowed_urls=https://(x\n', ['allowed_urls = "https://(x" is not allowed', '"https://(x" is not a valid regular expression']);
      for (const a of ['127.0.0.1:8080', 'http://127.0.0.1', 'http://h:70000', 'unix:/tmp/s', 'ftp://h:1', 'http://h:1/path']) {
        refuses(`inference_address=${a}\n`, [`inference_address = "${a}" is not allowed: expected http://host:port or https://host:port with a port from 0 to 65535`]);
      }
    });

    it('models JSON', () => {
      refuses('models={nope\n', ['models = "{nope" is not allowed', 'is not valid JSON']);
      refuses('models=[]\n', ['the top level is not an object']);
      refuses('models={"m":{"1.0":{"batchSize":"8"}}}\n', ['"m"."1.0".batchSize must be a positive integer (got "8")']);
      refuses('models={"m":{"1.0":{"defaultVersion":"yes"}}}\n', ['"m"."1.0".defaultVersion must be boolean']);
      refuses('models={"m":{"1.0":{"marName":""}}}\n', ['marName must be a non-empty string']);
      refuses('models={"m":{"1.0":{"batchsize":8}}}\n', ['"m"."1.0" has unknown field "batchsize"; allowed: defaultVersion']);
      refuses('models={"m":{"1.0":{"minWorkers":3,"maxWorkers":2}}}\n', ['minWorkers (3) must not exceed maxWorkers (2)']);
      refuses('models={"m":{"1":{"defaultVersion":true},"2":{"defaultVersion":true}}}\n', ['"m" has more than one version']);
      refuses('models={"-m":{}}\n', ['"-m" is not a valid model name']);
      refuses('models={"m":[]}\n', ['"m" is not an object of versions']);
    refuses('models={"m":{"1":{"toString":1}}}\n', ['has unknown field "toString"']);
    });

    it('TLS files come in pairs and https needs them', () => {
      refuses('private_key_file=k.pem\n', [`${file}: private_key_file is set but certificate_file is not`]);
      refuses('management_address=https://127.0.0.1:8443\n', [`${file}: management_address uses https but private_key_file`]);
      const c = load('inference_address=https://localhost:8443\nprivate_key_file=k.pem\ncertificate_file=c.pem\n');
      expect(c.inferenceAddress).to.deep.equal({ scheme: 'https', host: 'localhost', port: 8443 });
    });
  });

  it('parses the models JSON', () => {
    const json = '{"resnet-18":{"1.0":{"defaultVersion":true,"marName":"r.mar","minWorkers":1,"maxWorkers":4,"batchSize":8,"maxBatchDelay":100,"responseTimeout":120,"startupTimeout":60}},"b":{"2":{}}}';
    const c = load(`models=${json}\n`);
    expect(c.models).to.deep.equal(JSON.parse(json));
    expect(Object.keys(load('models={"m":{"__proto__":{"batchSize":2}}}\n').models.m)).to.deep.equal(['__proto__']);
    expect(Object.isFrozen(c.models['resnet-18']['1.0'])).to.equal(true);
  });

  it('parses load_models forms', () => {
    expect(load('load_models=all\n').loadModels).to.equal('all');
    expect(load('load_models=ALL\n').loadModels).to.equal('all');
    expect(load('load_models=\n').loadModels).to.deep.equal([]);
    expect(load('load_models=a.mar, n=b.mar ,,x.y-1=https://h/c.mar?k=v,https://h/d.mar?k=v\n').loadModels).to.deep.equal([
      { url: 'a.mar' }, { name: 'n', url: 'b.mar' }, { name: 'x.y-1', url: 'https://h/c.mar?k=v' }, { url: 'https://h/d.mar?k=v' },
    ]);
  });

  it('parses addresses; model API defaults on only for a loopback management address', () => {
    const c = load('inference_address=HTTP://[::1]:0/\nmetrics_address=http://my-host.local:9090\nmanagement_address=http://localhost:1\n');
    expect(c.inferenceAddress).to.deep.equal({ scheme: 'http', host: '::1', port: 0 });
    expect(c.metricsAddress).to.deep.equal({ scheme: 'http', host: 'my-host.local', port: 9090 });
    expect(c.enableModelApi).to.equal(true);
    expect(load('management_address=http://127.1.2.3:65535\n').enableModelApi).to.equal(true);
    expect(load('management_address=http://[::1]:8081\n').enableModelApi).to.equal(true);
    expect(load('management_address=http://0.0.0.0:8081\n').enableModelApi).to.equal(false);
    expect(load('management_address=http://10.0.0.5:8081\nenable_model_api=true\n').enableModelApi).to.equal(true);
    expect(load('enable_model_api=false\n').enableModelApi).to.equal(false);
  });

  it('compiles allowed_urls anchored to the whole URL', () => {
    const c = load('allowed_urls=file://.*,https://models\\\\.example\\\\.com/.*\n');
    expect(c.allowedUrlsModelStoreOnly).to.equal(false);
    const ok = (u: string) => c.allowedUrls.some((r) => r.test(u));
    expect(ok('file:///m/a.mar')).to.equal(true);
    expect(ok('https://models.example.com/a.mar')).to.equal(true);
    expect(ok('https://modelsXexample.com/a.mar')).to.equal(false);
    expect(ok('http://evil/?file://x')).to.equal(false);
  });

  describe('auto sizing', () => {
    it('autoWorkers = min(cores, 4), at least 1', () => {
      expect([0, 1, 2, 3, 4, 8, 64].map(autoWorkers)).to.deep.equal([1, 1, 2, 3, 4, 4, 4]);
    });

    it('intraOpThreadsFor shares the cores between workers unless configured', () => {
      const cases: [number, number, number][] = [[2, 8, 0], [3, 8, 0], [8, 2, 0], [0, 4, 0], [2, 8, 3]];
      expect(cases.map(([w, c, t]) => intraOpThreadsFor(w, c, t))).to.deep.equal([4, 2, 1, 4, 3]);
    });

    it('default_workers_per_model: configured, else GPUs, else auto from the core count', () => {
      expect(load(undefined, { cpuCount: 2 }).defaultWorkersPerModel).to.equal(2);
      expect(load(undefined, { cpuCount: 16 }).defaultWorkersPerModel).to.equal(4);
      expect(load('default_workers_per_model=6\n', { cpuCount: 2 }).defaultWorkersPerModel).to.equal(6);
      expect(load('number_of_gpu=2\n', { cpuCount: 16 }).defaultWorkersPerModel).to.equal(2);
      expect(load('intra_op_threads=3\n').intraOpThreads).to.equal(3);
    });
  });

  it('loads the project config.properties without warnings', () => {
    const c = loadConfig({ configFile: path.join(ROOT, 'config.properties'), env: {}, cpuCount: 4, warn: (m) => warnings.push(m), info: (m) => infos.push(m) });
    expect([warnings, infos]).to.deep.equal([[], []]);
    expect(c.modelStore).to.equal(path.join(ROOT, 'model_store'));
    expect(c.loadModels).to.equal('all');
    expect(c.inferenceAddress).to.deep.equal({ scheme: 'http', host: '127.0.0.1', port: 8080 });
    expect(c).to.include({ defaultWorkersPerModel: 4, jobQueueSize: 100, maxRequestSize: 6553500, enableModelApi: true });
  });
});
