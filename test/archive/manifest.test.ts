import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { ServeError } from '../../src/errors.ts';
import {
  MANIFEST_PATH,
  createManifest,
  filesNamedBy,
  formatCreatedOn,
  parseHandlerSpec,
  validateManifest,
} from '../../src/archive/manifest.ts';

const SRC = '/store/resnet.mar';
const PKG_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;

function good(model: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    createdOn: '24/11/2026 18:00:00',
    runtime: 'node',
    archiverVersion: '0.1.0',
    model: { modelName: 'resnet-18', modelVersion: '1.0', serializedFile: 'model.onnx', handler: 'handler.js', ...model },
  };
}

function expectInvalid(json: unknown, ...parts: string[]): ServeError {
  let caught: unknown;
  try {
    validateManifest(json, SRC);
  } catch (e) {
    caught = e;
  }
  expect(caught, 'validateManifest should throw').to.be.instanceOf(ServeError);
  const err = caught as ServeError;
  expect(err.kind).to.equal('InvalidArchive');
  expect(err.status).to.equal(400);
  for (const p of [SRC, ...parts]) expect(err.message).to.include(p);
  return err;
}

describe('archive/manifest', () => {
  it('exports the manifest path', () => {
    expect(MANIFEST_PATH).to.equal('MAR-INF/MANIFEST.json');
  });

  describe('parseHandlerSpec', () => {
    it('recognises built-in names', () => {
      expect(parseHandlerSpec('image_classifier')).to.deep.equal({ builtin: 'image_classifier' });
      expect(parseHandlerSpec('tensor')).to.deep.equal({ builtin: 'tensor' });
    });
    it('splits a file and an export name', () => {
      expect(parseHandlerSpec('handler.js')).to.deep.equal({ file: 'handler.js' });
      expect(parseHandlerSpec('lib/handler.mjs:MyHandler')).to.deep.equal({ file: 'lib/handler.mjs', exportName: 'MyHandler' });
    });
    it('does not take a Windows drive letter for an export', () => {
      expect(parseHandlerSpec('C:\\work\\handler.js')).to.deep.equal({ file: 'C:\\work\\handler.js' });
      expect(parseHandlerSpec('C:\\work\\handler.js:Foo')).to.deep.equal({ file: 'C:\\work\\handler.js', exportName: 'Foo' });
    });
  });

  describe('validateManifest', () => {
    it('accepts a valid manifest and returns its fields', () => {
      const m = validateManifest(good({ configFile: 'model-config.yaml' }), SRC);
      expect(m).to.deep.equal({
        createdOn: '24/11/2026 18:00:00',
        runtime: 'node',
        archiverVersion: '0.1.0',
        model: {
          modelName: 'resnet-18',
          modelVersion: '1.0',
          handler: 'handler.js',
          serializedFile: 'model.onnx',
          configFile: 'model-config.yaml',
        },
      });
    });

    it('accepts built-in handlers, export names and files in sub-folders', () => {
      expect(validateManifest(good({ handler: 'ocr' }), SRC).model.handler).to.equal('ocr');
      expect(validateManifest(good({ handler: 'h.mjs:Cls' }), SRC).model.handler).to.equal('h.mjs:Cls');
      expect(validateManifest(good({ serializedFile: 'models/a.onnx' }), SRC).model.serializedFile).to.equal('models/a.onnx');
    });

    it('accepts a TorchServe manifest (python runtime, extra keys) and drops empty optional keys', () => {
      const m = validateManifest(
        { createdOn: '28/07/2020 06:32:08', runtime: 'python', model: { ...(good().model as object), configFile: '' }, extra: 1 },
        SRC,
      );
      expect(m.runtime).to.equal('python');
      expect(m.archiverVersion).to.equal('');
      expect(m.model).to.not.have.property('configFile');
    });

    it('refuses what is not an object', () => {
      expectInvalid(null, 'not a JSON object');
      expectInvalid([1], 'not a JSON object');
      expectInvalid({ model: 'x' }, '"model"');
    });

    it('refuses bad model names', () => {
      expectInvalid(good({ modelName: undefined }), 'model.modelName');
      expectInvalid(good({ modelName: '-x' }), 'model.modelName', '-x');
      expectInvalid(good({ modelName: 'a b' }), 'model.modelName');
      expectInvalid(good({ modelName: '../x' }), 'model.modelName');
    });

    it('refuses an empty or missing version or handler, and wrong types', () => {
      expectInvalid(good({ modelVersion: '' }), 'model.modelVersion');
      expectInvalid(good({ modelVersion: 1 }), 'model.modelVersion', 'string');
      expectInvalid(good({ handler: '' }), 'model.handler');
      expectInvalid(good({ handler: undefined }), 'model.handler');
      expectInvalid(good({ serializedFile: 5 }), 'model.serializedFile', 'string');
      expectInvalid({ ...good(), createdOn: 5 }, 'createdOn');
    });

    it('refuses file fields that leave the archive', () => {
      expectInvalid(good({ serializedFile: '/etc/passwd' }), 'model.serializedFile', 'absolute');
      expectInvalid(good({ serializedFile: '../model.onnx' }), 'model.serializedFile', '..');
      expectInvalid(good({ serializedFile: 'a/../../x.onnx' }), 'model.serializedFile', '..');
      expectInvalid(good({ configFile: 'C:\\cfg.yaml' }), 'model.configFile');
      expectInvalid(good({ configFile: 'C:/cfg.yaml' }), 'model.configFile', 'absolute');
      expectInvalid(good({ configFile: 'a//b.yaml' }), 'model.configFile');
      expectInvalid(good({ handler: '../h.js:Foo' }), 'model.handler', '..');
      expectInvalid(good({ handler: '/abs/h.js' }), 'model.handler', 'absolute');
    });

    it('refuses a handler that is neither built in nor a .js/.mjs file', () => {
      expectInvalid(good({ handler: 'handler.py' }), 'model.handler', 'built-in');
      expectInvalid(good({ handler: 'dali_image_classifier' }), 'model.handler', 'image_classifier');
    });
  });

  describe('filesNamedBy', () => {
    it('lists the files a manifest needs, without built-in handlers', () => {
      const m = validateManifest(good({ handler: 'h.js:X', configFile: 'c.yaml' }), SRC);
      expect(filesNamedBy(m).map((f) => f.file)).to.have.members(['model.onnx', 'c.yaml', 'h.js']);
      const b = validateManifest(good({ handler: 'tensor' }), SRC);
      expect(filesNamedBy(b).map((f) => f.file)).to.deep.equal(['model.onnx']);
    });
  });

  describe('createManifest', () => {
    it('writes TorchServe fields with runtime node and the package version', () => {
      const m = createManifest({ modelName: 'm', version: '2.0', handler: 'tensor', serializedFile: 'model.onnx' });
      expect(m.runtime).to.equal('node');
      expect(m.archiverVersion).to.equal(PKG_VERSION);
      expect(m.createdOn).to.match(/^\d{2}\/\d{2}\/\d{4} \d{2}:\d{2}:\d{2}$/);
      expect(m.model).to.deep.equal({ modelName: 'm', modelVersion: '2.0', handler: 'tensor', serializedFile: 'model.onnx' });
      expect(Object.keys(m)).to.deep.equal(['createdOn', 'runtime', 'archiverVersion', 'model']);
    });

    it('formats createdOn as %d/%m/%Y %H:%M:%S', () => {
      const d = new Date(2026, 0, 5, 7, 8, 9);
      expect(formatCreatedOn(d)).to.equal('05/01/2026 07:08:09');
      expect(createManifest({ modelName: 'm', version: '1', handler: 'ocr', createdOn: d }).createdOn).to.equal('05/01/2026 07:08:09');
    });

    it('omits empty optional keys', () => {
      const m = createManifest({ modelName: 'm', version: '1', handler: 'h.js', serializedFile: '', configFile: undefined });
      expect(m.model).to.deep.equal({ modelName: 'm', modelVersion: '1', handler: 'h.js' });
    });

    it('throws BadRequest naming the option', () => {
      const bad = (f: () => unknown, option: string) => {
        expect(f).to.throw(ServeError, option);
        try {
          f();
        } catch (e) {
          expect((e as ServeError).kind).to.equal('BadRequest');
        }
      };
      bad(() => createManifest({ modelName: 'bad name', version: '1', handler: 'ocr' }), '--model-name');
      bad(() => createManifest({ modelName: 'm', version: '', handler: 'ocr' }), '--version');
      bad(() => createManifest({ modelName: 'm', version: '1', handler: 'h.py' }), '--handler');
      bad(() => createManifest({ modelName: 'm', version: '1', handler: 'ocr', serializedFile: '../m.onnx' }), '--serialized-file');
    });
  });
});
