import { main } from '../../cli/main';

/** Runs the `champion` CLI in process against the app at `api`, capturing what it prints. */
export async function runCli(api: string, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main([...argv, '--url', api], {
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    fetch,
    env: {},
  });
  return { code, out, err };
}
