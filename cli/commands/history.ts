import type { ModelHistory, ProductionInterval } from '../../lib/domain/history';
import type { CommandSpec } from '../args';
import { fields, formatTime, indent, NONE, orNone, table } from '../format';
import { printJson, println } from '../io';

/** "promote:demand:2", or "rollback … by oncall: p99 doubled". */
export function causeText(entry: ProductionInterval): string {
  const cause = entry.cause;
  if (cause.kind === 'promotion') return cause.id;
  if (cause.kind === 'rollback') return `${cause.id} by ${cause.requestedBy}: ${cause.reason}`;
  return 'tagged in the registry, no record of how';
}

const approvalText = (entry: ProductionInterval): string =>
  entry.approval
    ? `${entry.approval.approver}${entry.approval.authenticated ? '' : ' (unauthenticated)'} at ${formatTime(entry.approval.at)}`
    : entry.promotionId
      ? 'no approval asked'
      : NONE;

export const history: CommandSpec = {
  name: 'history',
  summary: 'What was in production for a model, and when',
  description:
    'Lists each version that was in production for the model, oldest first: from when until when, what put it there\n' +
    '(the promotion that released it, or a rollback with who asked and why), who approved it and the source commit\n' +
    'the registry records. With --at, only the version in production at that instant (ISO 8601 with a time zone,\n' +
    'or a date); with --csv, the same rows as CSV (RFC 4180, with a header), e.g. to keep for an audit. For a policy\n' +
    "with environments, each environment's history (its endpoint, releases and rollbacks); --environment shows one,\n" +
    'and --at and --csv answer for one (default: the first).',
  args: [{ name: 'MODEL', description: 'the model name, e.g. demand' }],
  options: [
    { name: 'at', value: 'TIME', description: 'only what was in production then, e.g. 2026-03-01T12:00:00Z' },
    { name: 'csv', description: 'print CSV instead of a table' },
    { name: 'environment', value: 'NAME', description: 'for a policy with environments, only this one' },
  ],
  examples: [
    'champion history demand',
    'champion history demand --at 2026-03-01T12:00:00Z',
    'champion history demand --csv > demand.csv',
    'champion history forecast --environment prod',
  ],
  async run({ io, client, json, args, options, flags }) {
    const model = args.MODEL ?? '';
    const environment = options.environment;
    if (flags.csv) {
      io.stdout(await client.getHistoryCsv(model, options.at, environment));
      return 0;
    }
    if (options.at !== undefined) {
      const answer = await client.getProductionAt(model, options.at, environment);
      const where = answer.environment !== undefined ? ` in ${answer.environment}` : '';
      if (json) {
        printJson(io, answer);
        return 0;
      }
      const entry = answer.production;
      if (!entry) {
        println(io.stdout, `Nothing was in production for ${model}${where} at ${formatTime(answer.at)}.`);
        return 0;
      }
      println(io.stdout, `At ${formatTime(answer.at)}, ${model}:${entry.version} was in production${where}.`);
      println(
        io.stdout,
        fields([
          ['since', formatTime(entry.from)],
          ['until', entry.until ? formatTime(entry.until) : 'now'],
          ['put there by', causeText(entry)],
          ['released by', orNone(entry.promotionId)],
          ['approved by', approvalText(entry)],
          ['evidence', entry.evidence ? `${entry.evidence.decision}: ${entry.evidence.reason}` : NONE],
          ['commit', orNone(entry.commit)],
          ['registered by', orNone(entry.registeredBy?.name)],
        ]),
      );
      return 0;
    }
    const found = await client.getHistory(model, environment);
    if (json) {
      printJson(io, found);
      return 0;
    }
    // Each environment's, or the one asked for; without environments, the model's.
    const shown: (ModelHistory & { environment?: string; endpointName?: string })[] =
      found.environments && environment === undefined ? found.environments : [found];
    shown.forEach((one, index) => {
      const where = one.environment !== undefined ? ` in ${one.environment} (endpoint ${one.endpointName})` : '';
      if (index > 0) println(io.stdout, '');
      if (one.intervals.length === 0) println(io.stdout, `Nothing of ${model} has been in production${where}.`);
      else {
        const rows = one.intervals.map((entry) => [
          entry.version,
          formatTime(entry.from),
          entry.until ? formatTime(entry.until) : 'now',
          causeText(entry),
          approvalText(entry),
          orNone(entry.commit),
        ]);
        println(io.stdout, `Model ${model} in production${where}`);
        println(io.stdout, indent(table(['VERSION', 'FROM', 'UNTIL', 'PUT THERE BY', 'APPROVED BY', 'COMMIT'], rows)));
      }
      for (const note of one.notes) println(io.stdout, `\nNote: ${note}`);
    });
    return 0;
  },
};
