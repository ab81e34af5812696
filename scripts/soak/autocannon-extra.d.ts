/**
 * The parts of autocannon's API the soak uses beyond scripts/bench/autocannon.d.ts (these declarations merge
 * with that file's): a per-request response callback and a cap on the total count of requests.
 */
declare module 'autocannon' {
  interface Request {
    /** Called with every response to this request (autocannon collects the body as a string). */
    onResponse?: (status: number, body: string) => void;
  }

  interface Options {
    /** Total requests over all connections; each connection closes once it has sent its share. */
    maxOverallRequests?: number;
  }
}
