/**
 * What the CLI touches outside itself: two writers, fetch and the environment. Commands receive a `CliIo` instead
 * of using `process` directly, so tests (and the demo) can run them in-process and capture what they print.
 */

/** Writes a chunk as is (like `process.stdout.write`): callers add their own newlines. */
export type Writer = (chunk: string) => void;

export interface CliIo {
  stdout: Writer;
  stderr: Writer;
  fetch: typeof fetch;
  env: Readonly<Record<string, string | undefined>>;
  /** True when stdout is a terminal: a watch may redraw a status line there, and prints plain lines otherwise. */
  isTTY?: boolean;
  /** Waits between polls, returning early when `signal` aborts (default: a timer). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Calls `stop` on Ctrl-C until the returned function is called (a watch stops; the app is left as it is). */
  onInterrupt?: (stop: () => void) => () => void;
}

/** The real process: its stdout and stderr, the global fetch, `process.env` and Ctrl-C. */
export function processIo(): CliIo {
  return {
    stdout: (chunk) => void process.stdout.write(chunk),
    stderr: (chunk) => void process.stderr.write(chunk),
    fetch: (input, init) => fetch(input, init),
    env: process.env,
    isTTY: process.stdout.isTTY === true,
    onInterrupt: (stop) => {
      // Only the first Ctrl-C is taken: a second one ends the process as usual.
      const handler = () => stop();
      process.once('SIGINT', handler);
      return () => void process.off('SIGINT', handler);
    },
  };
}

/** Writes one line (or several) followed by a newline. */
export function println(write: Writer, text = ''): void {
  write(`${text}\n`);
}

/** Prints a value as JSON (two-space indent) on stdout, nothing else. */
export function printJson(io: CliIo, value: unknown): void {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}
