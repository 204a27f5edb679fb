/**
 * `champion`: the command line of the app's HTTP API. `main(argv, io)` runs one command and resolves with the exit
 * code (0 ok, 1 the app failed or could not be reached, 2 bad usage); it never calls process.exit, so tests and the
 * demo can run it in-process. Run directly (or through bin/champion.js) it drives the real process.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { api, ApiError, DEFAULT_URL, UnreachableError } from './api';
import { commandHelp, describeList, GLOBAL_OPTIONS, parseCommand, UsageError, type CommandSpec } from './args';
import { COMMANDS } from './commands';
import { println, processIo, type CliIo } from './io';

export type { CliIo } from './io';

/** The reserved command implemented by cli/demo.ts (when present). */
const DEMO = 'demo';

interface DemoModule {
  runDemo(argv: string[], io: CliIo): Promise<number>;
}

/** The version in the project's package.json, found by walking up from this file (cli/ or dist/cli/). */
export function version(): string {
  for (let dir = __dirname, i = 0; i < 5; i++, dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    try {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'champion' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // Keep looking.
    }
  }
  return 'unknown';
}

const demoAvailable = (): boolean => ['demo.js', 'demo.ts'].some((file) => existsSync(join(__dirname, file)));

async function loadDemo(): Promise<DemoModule['runDemo'] | undefined> {
  if (!demoAvailable()) return undefined;
  const specifier = './demo.js';
  const loaded = (await import(specifier)) as Partial<DemoModule> & { default?: Partial<DemoModule> };
  const runDemo = loaded.runDemo ?? loaded.default?.runDemo;
  return typeof runDemo === 'function' ? runDemo : undefined;
}

export function topHelp(): string {
  const commands: [string, string][] = COMMANDS.map((c) => [c.name, c.summary]);
  if (demoAvailable()) commands.push([DEMO, 'Run the demo (see: champion demo --help)']);
  const lines = [
    'champion: promote Azure ML models (evaluate against the champion, stage, approve, roll out blue/green).',
    '',
    'Usage: champion <command> [arguments] [options]',
    '',
    'Commands:',
    ...describeList(commands),
    '',
    'Global options:',
    ...describeList([
      ...GLOBAL_OPTIONS.map((o): [string, string] => [
        `${o.short ? `-${o.short}, ` : ''}--${o.name}${o.value ? ` ${o.value}` : ''}`,
        o.description,
      ]),
      ['--version', 'print the version'],
    ]),
    '',
    'Examples:',
    '  champion promotions --model demand',
    '  champion show promote:demand:3',
    '  champion approve promote:demand:3 --as alice@contoso.com',
    '',
    "Run 'champion <command> --help' for a command's arguments and options.",
  ];
  return `${lines.join('\n')}\n`;
}

/** The closest command name, for "did you mean"; edit distance at most 2, or a prefix. */
function suggest(name: string): string | undefined {
  const distance = (a: string, b: string): number => {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let diagonal = row[0] ?? 0;
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const above = row[j] ?? 0;
        row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
        diagonal = above;
      }
    }
    return row[b.length] ?? Infinity;
  };
  const names = COMMANDS.map((c) => c.name);
  return names.find((n) => n.startsWith(name) || name.startsWith(n)) ?? names.find((n) => distance(n, name) <= 2);
}

/** Prints an error and returns the exit code: 2 for usage, 1 for everything else. */
export function reportError(err: unknown, io: CliIo): number {
  if (err instanceof UsageError) {
    println(io.stderr, `champion: ${err.message}`);
    println(io.stderr);
    io.stderr(err.usage);
    return 2;
  }
  if (err instanceof UnreachableError) {
    println(io.stderr, err.message);
    if (err.code && err.code !== 'ECONNREFUSED') println(io.stderr, `(${err.code})`);
    return 1;
  }
  if (err instanceof ApiError) {
    println(io.stderr, `champion: ${err.message} (HTTP ${err.status})`);
    return 1;
  }
  println(io.stderr, `champion: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return 1;
}

function resolveBaseUrl(flag: string | undefined, io: CliIo, usage: string): string {
  const fromEnv = io.env.CHAMPION_URL?.trim() || undefined;
  const raw = flag ?? fromEnv ?? DEFAULT_URL;
  const from = flag !== undefined ? '--url' : fromEnv !== undefined ? 'CHAMPION_URL' : 'default URL';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`${from}: not a URL: '${raw}'`, usage);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${from}: must be an http(s) URL, got '${raw}'`, usage);
  }
  return raw;
}

async function runCommand(spec: CommandSpec, argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (parsed.help) {
    io.stdout(commandHelp(spec));
    return 0;
  }
  const baseUrl = resolveBaseUrl(parsed.url, io, commandHelp(spec));
  return spec.run({
    io,
    client: api(baseUrl, io, { functionKey: io.env.CHAMPION_FUNCTION_KEY }),
    json: parsed.json,
    args: parsed.args,
    options: parsed.options,
    flags: parsed.flags,
  });
}

/** Splits leading global options (`champion --url X show ID`) from the command name and its arguments. */
function splitCommand(argv: string[]): { leading: string[]; command?: string; rest: string[] } {
  const leading: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] ?? '';
    if (token === '--') return { leading, command: argv[i + 1], rest: argv.slice(i + 2) };
    if (!token.startsWith('-') || token === '-') return { leading, command: token, rest: argv.slice(i + 1) };
    leading.push(token);
    if (token === '--url' && i + 1 < argv.length) leading.push(argv[++i] ?? '');
  }
  return { leading, rest: [] };
}

async function run(argv: string[], io: CliIo): Promise<number> {
  const { leading, command, rest } = splitCommand(argv);
  let globals: { help?: boolean; version?: boolean };
  try {
    globals = parseArgs({
      args: leading,
      options: {
        url: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    const named = /'(-[^' ]+)/.exec(err instanceof Error ? err.message : '')?.[1];
    const message =
      (err as { code?: unknown }).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && named
        ? `option ${named} needs a value`
        : `unknown option '${named ?? String(err)}'`;
    throw new UsageError(message, topHelp());
  }

  if (globals.version) {
    println(io.stdout, `champion ${version()}`);
    return 0;
  }
  if (command === undefined) {
    if (globals.help) {
      io.stdout(topHelp());
      return 0;
    }
    throw new UsageError('missing command', topHelp());
  }
  if (command === 'help') {
    const topic = rest[0];
    if (topic === undefined) {
      io.stdout(topHelp());
      return 0;
    }
    if (topic === DEMO) return runDemo(['--help'], io);
    const spec = COMMANDS.find((c) => c.name === topic);
    if (!spec) throw new UsageError(`unknown command '${topic}'`, topHelp());
    io.stdout(commandHelp(spec));
    return 0;
  }
  if (command === DEMO) return runDemo([...leading, ...rest], io);

  const spec = COMMANDS.find((c) => c.name === command);
  if (!spec) {
    const near = suggest(command);
    throw new UsageError(`unknown command '${command}'${near ? ` (did you mean '${near}'?)` : ''}`, topHelp());
  }
  return runCommand(spec, [...leading, ...rest], io);
}

async function runDemo(argv: string[], io: CliIo): Promise<number> {
  const runDemo = await loadDemo();
  if (!runDemo) {
    println(io.stderr, "champion: the 'demo' command is not available in this build (cli/demo.ts is missing).");
    return 1;
  }
  return runDemo(argv, io);
}

/** Runs one command line (without `node` and the script) and resolves with the exit code. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  try {
    return await run(argv, io);
  } catch (err) {
    return reportError(err, io);
  }
}

/** True when this file is the program: run with node, or required by bin/champion.js. */
function isProgram(): boolean {
  if (typeof require === 'undefined' || typeof module === 'undefined' || !require.main) return false;
  return require.main === module || require.main.filename === resolve(__dirname, '../../bin/champion.js');
}

if (isProgram()) {
  // `champion promotions | head` closes stdout early: stop quietly.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
