/**
 * Tests are quiet when green. What code under test writes straight to stdout and stderr (the
 * functions' Powertools log lines, a test's own summary) is kept in memory, and printed only
 * with a test that fails: that test's output, after what the file's hooks wrote outside any
 * test (servers started in `beforeAll`, a run measured there); when a `beforeAll` or `afterAll`
 * fails, that outside output is printed with the file's failure. A test that captures output
 * itself (`vi.spyOn(process.stdout, "write")`) still sees every write while its spy is on.
 *
 * Vitest loads this before every test file (`setupFiles` in vitest.config.ts).
 */
import { afterAll, afterEach, beforeEach } from "vitest";

type Chunk = string | Uint8Array;
type Kept = Array<[NodeJS.WriteStream, Chunk]>;

const installed = Symbol.for("flxbl-lambda.quiet-output");
const state = globalThis as typeof globalThis & {
  [installed]?: { outside: Kept; current: Kept | undefined; write: Map<NodeJS.WriteStream, (chunk: Chunk) => void> };
};

function install() {
  const kept: NonNullable<(typeof state)[typeof installed]> = { outside: [], current: undefined, write: new Map() };
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write.bind(stream) as (chunk: Chunk) => boolean;
    kept.write.set(stream, (chunk) => original(chunk));
    stream.write = ((chunk: Chunk, encodingOrCallback?: unknown, callback?: unknown) => {
      (kept.current ?? kept.outside).push([stream, typeof chunk === "string" ? chunk : Buffer.from(chunk)]);
      const done = typeof encodingOrCallback === "function" ? encodingOrCallback : callback;
      if (typeof done === "function") queueMicrotask(() => done());
      return true;
    }) as typeof stream.write;
  }
  return kept;
}

// Each test file runs this module again in the same worker: install once, start each file clean.
state[installed] ??= install();
const kept = state[installed];
kept.outside = [];
kept.current = undefined;

beforeEach((context) => {
  const mine: Kept = [];
  kept.current = mine;
  const outside = kept.outside;
  context.onTestFailed(() => {
    const lines = [...outside, ...mine];
    if (lines.length === 0) return;
    const print = (stream: NodeJS.WriteStream, chunk: Chunk) => kept.write.get(stream)?.(chunk);
    print(process.stderr, `\n--- output of the failed test "${context.task.name}" ---\n`);
    for (const [stream, chunk] of lines) print(stream, chunk);
    print(process.stderr, "--- end of its output ---\n");
  });
});

afterEach(() => {
  kept.current = undefined;
});

// A failed beforeAll or afterAll fails no test: show what the file wrote outside its tests then.
// biome-ignore lint/correctness/noEmptyPattern: vitest passes the suite second and wants a pattern first
afterAll(({}, suite) => {
  const failed = (suite.result?.errors?.length ?? 0) > 0 || suite.result?.state === "fail";
  if (!failed || kept.outside.length === 0) return;
  const print = (stream: NodeJS.WriteStream, chunk: Chunk) => kept.write.get(stream)?.(chunk);
  print(process.stderr, `\n--- output of ${suite.name} outside its tests ---\n`);
  for (const [stream, chunk] of kept.outside) print(stream, chunk);
  print(process.stderr, "--- end of its output ---\n");
});
