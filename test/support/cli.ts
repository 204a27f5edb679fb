import { main } from '../../cli/main';

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** Runs the `champion` CLI in process against the app at `api`, capturing what it prints. */
export async function runCli(api: string, ...argv: string[]): Promise<CliRun> {
  const started = startCli(api, ...argv);
  return started.done;
}

/**
 * Starts the CLI in process without waiting for it, for commands that follow something (`--watch`, `--wait`):
 * `out()` is what it printed so far, `done` resolves when it exits.
 */
export function startCli(api: string, ...argv: string[]): { out: () => string; done: Promise<CliRun> } {
  let out = '';
  let err = '';
  const done = main([...argv, '--url', api], {
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    fetch,
    env: {},
  }).then((code) => ({ code, out, err }));
  return { out: () => out, done };
}
