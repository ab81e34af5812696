/**
 * An abort signal for a request whose client went away: the connection closed before the answer was written
 * (a client that timed out, a load balancer that gave up). Queued work for it leaves the queue unrun instead of
 * taking a worker from clients still waiting; work already running finishes and its answer is dropped.
 *
 * Not an AbortController: creating one and adding a listener costs ~4 µs in Node 20, a tenth of what a small
 * model's request costs the event loop. This is the response's own 'close' event read through the batcher's
 * QueueSignal shape: nothing is allocated until the batcher listens, and then one closure.
 */
import type { ServerResponse } from 'node:http';
import type { Context } from 'koa';
import type { QueueSignal } from '../batching/batcher.ts';
import { ServeError } from '../errors.ts';

const GONE = new ServeError('ServiceUnavailable', 'the client disconnected before its answer');

class ClientGone implements QueueSignal {
  private listeners?: Map<() => void, () => void>;

  constructor(private readonly res: ServerResponse) {}

  /** The connection closed and the answer was not (fully) written. */
  get aborted(): boolean {
    return this.res.closed && !this.res.writableFinished;
  }

  get reason(): unknown {
    return this.aborted ? GONE : undefined;
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    const onClose = () => {
      this.listeners?.delete(listener);
      if (!this.res.writableFinished) listener();
    };
    (this.listeners ??= new Map()).set(listener, onClose);
    this.res.once('close', onClose);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const onClose = this.listeners?.get(listener);
    if (onClose === undefined) return;
    this.listeners!.delete(listener);
    this.res.off('close', onClose);
  }
}

export function clientGone(ctx: Context): QueueSignal {
  return new ClientGone(ctx.res);
}
