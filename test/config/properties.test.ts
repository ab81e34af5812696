import { expect } from 'chai';
import { ServeError } from '../../src/errors.ts';
import {
  bool, Invalid, nonNegativeInt, oneOf, parseProperties, positiveInt, positiveNumber, substituteEnv, text,
} from '../../src/config/properties.ts';

describe('config/properties', () => {
  describe('parseProperties', () => {
    it('skips # and ! comments and blank lines', () => {
      const p = parseProperties('# a comment\n! another\n\n   # indented comment\na=1\n');
      expect(p).to.deep.equal({ a: '1' });
    });

    it('accepts =, : and whitespace separators, with spaces around them', () => {
      const p = parseProperties('a=1\nb:2\nc 3\nd = 4\ne : 5\n\tf\t6\ng=\nh\n');
      expect(p).to.deep.equal({ a: '1', b: '2', c: '3', d: '4', e: '5', f: '6', g: '', h: '' });
    });

    it('keeps = and : after the first separator in the value', () => {
      const p = parseProperties('inference_address=http://127.0.0.1:8080\nx: a=b:c\n');
      expect(p).to.deep.equal({ inference_address: 'http://127.0.0.1:8080', x: 'a=b:c' });
    });

    it('decodes escapes in keys and values', () => {
      const p = parseProperties('a\\=b\\:c=v\\tw\\nx\\\\y\nre=https://h\\\\.com/.*\n');
      expect(p['a=b:c']).to.equal('v\tw\nx\\y');
      expect(p.re).to.equal('https://h\\.com/.*');
    });

    it('decodes unicode escapes', () => {
      expect(parseProperties('name=caf\\u00e9 \\u2713\n').name).to.equal('café ✓');
    });

    it('joins continuation lines, dropping the next line\'s leading whitespace', () => {
      const p = parseProperties('load_models=a.mar,\\\n    b.mar,\\\n\tc.mar\nnext=1\n');
      expect(p).to.deep.equal({ load_models: 'a.mar,b.mar,c.mar', next: '1' });
    });

    it('handles CRLF line ends, and the last of repeated keys wins', () => {
      expect(parseProperties('a=1\r\nb=2\r\na=3\r\n')).to.deep.equal({ a: '3', b: '2' });
    });

    it('keeps dotted keys flat', () => {
      expect(parseProperties('a.b.c=1\na.b=2\n')).to.deep.equal({ 'a.b.c': '1', 'a.b': '2' });
    });
  });

  describe('substituteEnv', () => {
    it('replaces every $$NAME$$ with the variable', () => {
      expect(substituteEnv('$$HOST$$:$$PORT$$/$$HOST$$', { HOST: 'h', PORT: '1' })).to.equal('h:1/h');
    });

    it('leaves values without references alone, and substitutes empty variables as empty', () => {
      expect(substituteEnv('a$b$$c', {})).to.equal('a$b$$c');
      expect(substituteEnv('x$$E$$y', { E: '' })).to.equal('xy');
    });

    it('refuses an unset variable, naming the key and the variable', () => {
      const call = () => substituteEnv('$$NOPE_VAR$$/store', {}, { key: 'model_store', source: 'config.properties' });
      expect(call).to.throw(ServeError, /config\.properties: model_store = "\$\$NOPE_VAR\$\$\/store".*NOPE_VAR.*is not set/);
      try {
        call();
      } catch (e) {
        expect((e as ServeError).kind).to.equal('BadRequest');
      }
    });
  });

  describe('scalar parsers', () => {
    const refuses = (fn: () => unknown, msg: string) => expect(fn).to.throw(Invalid, msg);

    it('integers', () => {
      expect(positiveInt('12')).to.equal(12);
      expect(nonNegativeInt('0')).to.equal(0);
      for (const s of ['0', '-1', '1.5', 'abc', '', '1e3', '99999999999999999999']) refuses(() => positiveInt(s), 'expected a positive integer');
      for (const s of ['-1', 'x', '2.0']) refuses(() => nonNegativeInt(s), 'expected a non-negative integer');
    });

    it('positive numbers', () => {
      expect(positiveNumber('0.5')).to.equal(0.5);
      expect(positiveNumber('60')).to.equal(60);
      for (const s of ['0', '-1', 'x', 'Infinity', '1e3']) refuses(() => positiveNumber(s), 'expected a positive number');
    });

    it('booleans: true/false in any case only', () => {
      expect(bool('TRUE')).to.equal(true);
      expect(bool('False')).to.equal(false);
      for (const s of ['yes', '1', 'on', '']) refuses(() => bool(s), 'expected true or false');
    });

    it('enumerations and non-empty text', () => {
      const mode = oneOf('prometheus', 'log');
      expect(mode('LOG')).to.equal('log');
      refuses(() => mode('csv'), 'expected one of prometheus, log');
      expect(text('x')).to.equal('x');
      refuses(() => text(''), 'expected a non-empty value');
    });
  });
});
