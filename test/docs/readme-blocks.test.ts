/** The README test's reading of the README: which blocks run, the markers, and how commands are adjusted. */
import { expect } from 'chai';
import { prepare, readmeBlocks } from '../helpers/readme-blocks.ts';

const MD = [
  '# t',
  '```sh',
  'npm install',
  'npm start   # serves',
  'curl http://127.0.0.1:8080/ping',
  '```',
  '```python',
  'print("never run")',
  '```',
  '<!-- readme-test: skip (needs podman) -->',
  '```sh',
  'podman build .',
  '```',
  '- a list item:',
  '  <!-- readme-test: after stopping npm start -->',
  '',
  '  ```sh',
  '  curl -X POST http://127.0.0.1:8081/models && curl http://127.0.0.1:8082/metrics',
  '  ```',
].join('\n');

describe('README test: blocks and markers', function () {
  it('finds sh blocks only, with the skip reason and the stop marker, de-indented', () => {
    const blocks = readmeBlocks(MD);
    expect(blocks.map((b) => b.line)).to.deep.equal([2, 11, 17]);
    expect(blocks[0].skip).to.equal(undefined);
    expect(blocks[0].stopNpmStartFirst).to.equal(false);
    expect(blocks[1].skip).to.equal('needs podman');
    expect(blocks[2].stopNpmStartFirst).to.equal(true);
    expect(blocks[2].text).to.equal('curl -X POST http://127.0.0.1:8081/models && curl http://127.0.0.1:8082/metrics');
  });

  it('refuses a skip without a reason and unknown markers', () => {
    expect(() => readmeBlocks('<!-- readme-test: skip -->\n```sh\nls\n```\n')).to.throw(/unknown readme-test marker/);
    expect(() => readmeBlocks('<!-- readme-test: maybe -->\n```sh\nls\n```\n')).to.throw(/unknown readme-test marker "maybe"/);
  });

  it('substitutes the ports, makes curl fail on HTTP errors, drops npm install and splits at npm start', () => {
    const [first, , third] = readmeBlocks(MD);
    const ports = { '8080': 1001, '8081': 1002, '8082': 1003 };
    const p = prepare(first.text, ports);
    expect(p.npmStart).to.equal(true);
    expect(p.before).to.not.match(/^npm install/m);
    expect(p.after).to.equal('curl -sS --fail-with-body http://127.0.0.1:1001/ping');
    expect(prepare(third.text, ports).before).to.equal(
      'curl -sS --fail-with-body -X POST http://127.0.0.1:1002/models && curl -sS --fail-with-body http://127.0.0.1:1003/metrics',
    );
  });
});
