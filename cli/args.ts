/**
 * Commands as data: each declares its arguments, options and an example, from which come its parser (node:util
 * parseArgs, strict) and its `--help`. Bad input becomes a `UsageError` naming what is wrong; main prints it with
 * the command's usage and exits 2.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_URL, type ChampionApi } from './api';
import type { CliIo } from './io';

export interface ArgumentSpec {
  /** Shown in upper case in usage lines: ID, MODEL, VERSION. */
  name: string;
  description: string;
  /** Checks a value; returns a problem ("must be a version number") or undefined. */
  check?: (value: string) => string | undefined;
}

export interface OptionSpec {
  /** The long name, without dashes. */
  name: string;
  short?: string;
  /** The value's placeholder (NAME, TEXT); absent for flags. */
  value?: string;
  required?: boolean;
  description: string;
}

export interface CommandContext {
  io: CliIo;
  client: ChampionApi;
  /** --json: print the raw JSON response, nothing else. */
  json: boolean;
  /** Positional arguments by their spec name. */
  args: Record<string, string>;
  /** String options by long name (flags are not included). */
  options: Record<string, string | undefined>;
  /** The command's own flags (options without a value) by long name: true when given. */
  flags: Record<string, boolean>;
}

export interface CommandSpec {
  name: string;
  summary: string;
  /** A longer description for --help; defaults to the summary. */
  description?: string;
  /** Exit codes listed in --help, [code, meaning], besides 1 (the app failed) and 2 (bad usage) unless given. */
  exitCodes?: [string, string][];
  /** When those exit codes apply ("with --watch"); always, when absent. */
  exitCodesWhen?: string;
  args: ArgumentSpec[];
  options: OptionSpec[];
  examples: string[];
  run(context: CommandContext): Promise<number>;
}

/** Bad command-line input. `usage` is the help text to print after the message. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
  }
}

export const GLOBAL_OPTIONS: OptionSpec[] = [
  { name: 'url', value: 'URL', description: `the Champion app (default: $CHAMPION_URL or ${DEFAULT_URL})` },
  { name: 'json', description: 'print the raw JSON response, nothing else' },
  { name: 'help', short: 'h', description: 'show this help' },
];

/** What every command may exit with; a command may say more about a code. */
const COMMON_EXIT_CODES: [string, string][] = [
  ['1', 'the app answered an error (an unknown id: 404), or could not be reached'],
  ['2', 'bad usage'],
];

const optionLabel = (o: OptionSpec) => `${o.short ? `-${o.short}, ` : ''}--${o.name}${o.value ? ` ${o.value}` : ''}`;

/** Two-column lines ("  label   description"), labels padded to the widest. */
export function describeList(rows: [string, string][]): string[] {
  const width = Math.max(0, ...rows.map(([label]) => label.length));
  return rows.map(([label, text]) => `  ${label.padEnd(width)}  ${text}`.trimEnd());
}

export function usageLine(spec: CommandSpec): string {
  const parts = ['champion', spec.name, ...spec.args.map((a) => a.name)];
  for (const o of spec.options) {
    const label = `--${o.name}${o.value ? ` ${o.value}` : ''}`;
    parts.push(o.required ? label : `[${label}]`);
  }
  parts.push('[--json]', '[--url URL]');
  return `Usage: ${parts.join(' ')}`;
}

export function commandHelp(spec: CommandSpec): string {
  const lines = [usageLine(spec), '', spec.description ?? spec.summary];
  if (spec.args.length > 0) {
    lines.push('', 'Arguments:', ...describeList(spec.args.map((a) => [a.name, a.description])));
  }
  const options = [...spec.options, ...GLOBAL_OPTIONS];
  lines.push('', 'Options:', ...describeList(options.map((o) => [optionLabel(o), o.description])));
  if (spec.exitCodes) {
    lines.push(
      '',
      `Exit codes${spec.exitCodesWhen ? ` (${spec.exitCodesWhen})` : ''}:`,
      ...describeList(
        [...spec.exitCodes, ...COMMON_EXIT_CODES.filter(([code]) => !spec.exitCodes?.some(([c]) => c === code))].sort(
          ([a], [b]) => Number(a) - Number(b),
        ),
      ),
    );
  }
  lines.push('', spec.examples.length > 1 ? 'Examples:' : 'Example:', ...spec.examples.map((e) => `  ${e}`));
  return `${lines.join('\n')}\n`;
}

export interface ParsedCommand {
  help: boolean;
  json: boolean;
  url?: string;
  args: Record<string, string>;
  options: Record<string, string | undefined>;
  flags: Record<string, boolean>;
}

type ParseArgsOptions = Record<string, { type: 'string' | 'boolean'; short?: string }>;

/** Turns node:util parseArgs errors into short messages naming the option. */
function parseError(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  const named = /'(-[^' ]+)/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option '${named ?? message}'`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    return named && /argument missing|ambiguous/.test(message)
      ? `option ${named} needs a value`
      : `option ${named ?? ''}: ${message}`.replace(/^option : /, '');
  }
  return message;
}

/** Parses a command's arguments (global options included). `--help` wins over everything else. */
export function parseCommand(spec: CommandSpec, argv: string[]): ParsedCommand {
  const help = commandHelp(spec);
  const config: ParseArgsOptions = {};
  for (const o of [...GLOBAL_OPTIONS, ...spec.options]) {
    config[o.name] = { type: o.value ? 'string' : 'boolean', ...(o.short ? { short: o.short } : {}) };
  }
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: config, allowPositionals: true, strict: true }));
  } catch (err) {
    // `champion show --help --bogus` still shows the help.
    if (argv.includes('--help') || argv.includes('-h'))
      return { help: true, json: false, args: {}, options: {}, flags: {} };
    throw new UsageError(parseError(err), help);
  }
  if (values.help === true) return { help: true, json: false, args: {}, options: {}, flags: {} };

  const args: Record<string, string> = {};
  spec.args.forEach((a, i) => {
    const value = positionals[i];
    if (value === undefined) throw new UsageError(`missing argument ${a.name}`, help);
    if (!value.trim()) throw new UsageError(`argument ${a.name} must not be empty`, help);
    const problem = a.check?.(value);
    if (problem) throw new UsageError(`argument ${a.name} ${problem}, got '${value}'`, help);
    args[a.name] = value;
  });
  const extra = positionals[spec.args.length];
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`, help);

  const options: Record<string, string | undefined> = {};
  const flags: Record<string, boolean> = {};
  for (const o of spec.options) {
    if (!o.value) {
      flags[o.name] = values[o.name] === true;
      continue;
    }
    const value = values[o.name];
    if (typeof value === 'string' && !value.trim()) throw new UsageError(`option --${o.name} must not be empty`, help);
    if (value === undefined && o.required) throw new UsageError(`missing option --${o.name} ${o.value}`, help);
    options[o.name] = typeof value === 'string' ? value : undefined;
  }
  const url = values.url;
  if (typeof url === 'string' && !url.trim()) throw new UsageError('option --url must not be empty', help);
  return {
    help: false,
    json: values.json === true,
    ...(typeof url === 'string' ? { url } : {}),
    args,
    options,
    flags,
  };
}
