/** Messages between the bench and a worker process (`drivers/worker.ts`). */

/** Parent -> worker: invoke the handler once per event, one after the other. */
export interface Invoke {
  type: "invoke";
  events: unknown[];
  /** Send back the last result (to check what the function answered). */
  returnLast?: boolean;
  /** After the batch, collect garbage (Lambda runs node with --expose-gc) and report the heap still in use. */
  retainedHeap?: boolean;
}

/** Worker -> parent. Memory in bytes; `peakRss` is the process's VmHWM so far. */
export type WorkerReply =
  | { type: "ready"; bootMs: number; importMs: number; rss: number; peakRss: number; cpuMs: number }
  | {
      type: "invoked";
      /** Each invocation's latency in microseconds, in order. */
      micros: number[];
      failed: number;
      failures: string[];
      last?: unknown;
      /** performance.now() when the batch ended: ms since the process started. */
      sinceStartMs: number;
      rss: number;
      peakRss: number;
      /** CPU time (user + system) the process has used since it started, in ms. */
      cpuMs: number;
      /** Heap in use after a full GC, when asked for (`retainedHeap`). */
      retainedHeap?: number;
    }
  | { type: "error"; message: string };
