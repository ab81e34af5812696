import { expect } from 'chai';
import { performance } from 'node:perf_hooks';
import { Batcher } from '../../src/batching/batcher.ts';
import { ServeError } from '../../src/errors.ts';
import type { BatchResult, BatchTask, WireRequest } from '../../src/pool/messages.ts';

/** A batcher over one slot whose batches finish when the test says: what ran, and a way to finish it. */
function gatedBatcher() {
  const ran: string[][] = [];
  const finish: Array<() => void> = [];
  const batcher = new Batcher({
    batchSize: 8,
    queueSize: 100,
    slots: () => 1,
    label: 'model "m" version 1',
    dispatch: (task: BatchTask) =>
      new Promise<BatchResult>((resolve) => {
        ran.push(task.requests.map((r) => r.requestId));
        finish.push(() =>
          resolve({
            workerId: 1,
            timings: { preprocessMs: 0, inferenceMs: 0, postprocessMs: 0 },
            responses: task.requests.map(() => ({ ok: true, status: 200, body: 'ok', encoding: 'text', headers: {} })),
          } as unknown as BatchResult),
        );
      }),
  });
  const req = (id: string) => ({ requestId: id }) as WireRequest;
  return { batcher, ran, finish, req };
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

describe('batcher: queue deadlines and cancellation', () => {
  it('takes a request whose deadline passes while queued out of the queue, unrun, with the caller\'s error', async () => {
    const { batcher, ran, finish, req } = gatedBatcher();
    const first = batcher.submit(req('busy'), []);
    await tick();
    expect(ran).to.deep.equal([['busy']]);
    const late = batcher.submit(req('late'), [], '', {
      deadline: performance.now() + 20,
      expired: (waited) => new ServeError('ResponseTimeout', `deadline exceeded after ${Math.round(waited)} ms`),
    });
    const kept = batcher.submit(req('kept'), []);
    const err = await late.then(() => undefined, (e: ServeError) => e);
    expect(err).to.be.instanceOf(ServeError);
    expect(err!.status).to.equal(504);
    expect(err!.message).to.match(/deadline exceeded after \d+ ms/);
    expect(batcher.pending).to.equal(1);
    finish[0]();
    await first;
    await tick();
    expect(ran).to.deep.equal([['busy'], ['kept']]);
    finish[1]();
    expect((await kept).batchSize).to.equal(1);
  });

  it('answers a passed deadline with a 503 naming the queue timeout by default', async () => {
    const { batcher, finish, req } = gatedBatcher();
    void batcher.submit(req('busy'), []);
    await tick();
    const err = await batcher.submit(req('late'), [], '', { deadline: performance.now() + 5 }).then(() => undefined, (e: ServeError) => e);
    expect(err!.status).to.equal(503);
    expect(err!.message).to.match(/model "m" version 1: the request waited \d+ ms in the queue, past its queue timeout/);
    finish[0]();
  });

  it('drops a queued request whose client went away, and never runs it', async () => {
    const { batcher, ran, finish, req } = gatedBatcher();
    void batcher.submit(req('busy'), []);
    await tick();
    const ac = new AbortController();
    const gone = batcher.submit(req('gone'), [], '', { signal: ac.signal });
    ac.abort(new ServeError('BadRequest', 'client disconnected'));
    expect((await gone.then(() => undefined, (e: Error) => e))!.message).to.equal('client disconnected');
    expect(batcher.pending).to.equal(0);
    finish[0]();
    await tick(5);
    expect(ran).to.deep.equal([['busy']]);
  });

  it('refuses at once a request whose signal has already aborted', async () => {
    const { batcher, ran, req } = gatedBatcher();
    const ac = new AbortController();
    ac.abort();
    const err = await batcher.submit(req('x'), [], '', { signal: ac.signal }).then(() => undefined, (e: Error) => e);
    expect(err!.message).to.match(/cancelled before it ran/);
    await tick();
    expect(ran).to.deep.equal([]);
  });

  it('leaves a dispatched request alone when its deadline passes or its signal aborts: it runs to its end', async () => {
    const { batcher, ran, finish, req } = gatedBatcher();
    const ac = new AbortController();
    const deadline = performance.now() + 200;
    const running = batcher.submit(req('r'), [], '', { deadline, signal: ac.signal });
    await tick();
    expect(ran).to.deep.equal([['r']]); // dispatched before anything fired
    ac.abort();
    await tick(Math.max(0, deadline - performance.now()) + 20);
    finish[0]();
    expect((await running).response.ok).to.equal(true);
  });
});
