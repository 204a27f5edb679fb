import { commandHelp, UsageError, type CommandSpec } from '../args';
import type { Registrant } from '../../lib/domain/people';
import { fields, formatTime, indent, orNone, table } from '../format';
import { printJson, println } from '../io';
import { followPromotion, PROMOTION_EXIT_CODE_HELP } from './follow';
import { modelOf, stateOf } from './promotions';

export const show: CommandSpec = {
  name: 'show',
  summary: "Show a promotion's timeline, evidence, approval links and result",
  description:
    'Shows one promotion: its timeline, the evaluation evidence, the approval links while it waits for a\ndecision, and the result once it is done (outcome, reason, slot, git commit).\n' +
    'With --watch, follows it instead: one line per new timeline entry with the time since it started, and\n' +
    'what it waits for now (the deployment, approval and until when, the rollout), until it ends; the exit\n' +
    'code then says how it ended. Ctrl-C stops watching and leaves the promotion as it is.',
  args: [{ name: 'ID', description: 'the promotion id, e.g. promote:demand:3 (see: champion promotions)' }],
  options: [{ name: 'watch', short: 'w', description: 'follow the promotion until it ends (see the exit codes)' }],
  exitCodes: PROMOTION_EXIT_CODE_HELP,
  exitCodesWhen: 'with --watch',
  examples: ['champion show promote:demand:3', 'champion show promote:demand:3 --watch'],
  async run({ io, client, json, args, flags }) {
    const id = args.ID ?? '';
    if (flags.watch) {
      if (json)
        throw new UsageError('--watch prints lines as they come; it cannot be combined with --json', commandHelp(show));
      return followPromotion(io, client, id);
    }
    const p = await client.getPromotion(id);
    if (json) {
      printJson(io, p);
      return 0;
    }
    const out: string[] = [];
    out.push(
      `Promotion ${p.id}`,
      fields([
        ['Model', modelOf(p)],
        ['State', `${stateOf(p)} (${p.runtimeStatus})`],
        ['Attempt', `${p.attempt ?? 1}${p.retryOf ? ` (tries ${p.retryOf} again)` : ''}`],
        ...(p.registrant ? [registeredBy(p.registrant)] : []),
        ['Created', formatTime(p.createdTime)],
        ['Updated', formatTime(p.lastUpdatedTime)],
      ]),
    );

    const attempts = p.attempts ?? [];
    if (attempts.length > 1) {
      out.push('', 'Attempts of this version');
      out.push(
        indent(
          table(
            ['#', 'ID', 'STATE'],
            attempts.map((a) => [String(a.attempt), a.id, a.outcome ?? a.runtimeStatus.toLowerCase()]),
          ),
        ),
      );
    }

    const timeline = p.status?.timeline ?? [];
    out.push('', 'Timeline');
    out.push(
      timeline.length === 0
        ? '  (nothing yet)'
        : indent(
            table(
              ['TIME', 'PHASE', 'NOTE'],
              timeline.map((t) => [formatTime(t.at), t.phase, t.note]),
            ),
          ),
    );

    // Across a policy's environments: where the version is in each, by which promotion, and the gate passed.
    const environments = p.result?.environments ?? p.status?.environments ?? [];
    if (environments.length > 0) {
      out.push('', 'Environments');
      out.push(
        indent(
          table(
            ['ENVIRONMENT', 'STATE', 'PROMOTION', 'NOTE'],
            environments.map((e) => [
              e.name,
              e.carried ? `${e.state} (earlier attempt)` : e.outcome && e.state === 'stopped' ? e.outcome : e.state,
              e.promotionId ?? '—',
              [e.gate, e.reason].filter(Boolean).join('; ') || `${e.endpointName} in ${workspaceName(e.workspace)}`,
            ]),
          ),
        ),
      );
    }

    const evidence = p.status?.evidence;
    if (evidence) {
      out.push(
        '',
        'Evidence',
        fields([
          ['Decision', evidence.decision],
          ['Reason', evidence.reason],
          ['n', orNone(evidence.n)],
        ]),
      );
    }

    const approval = p.status?.approval;
    const waiting = p.runtimeStatus === 'Running' && p.status?.phase === 'awaiting-approval';
    if (waiting) {
      out.push('', 'Waiting for a decision');
      const rows: [string, string][] = [];
      // The links went to the approvers only (they carry tokens); the CLI decides as its user.
      if (approval) rows.push(['Expires', formatTime(approval.expiresAt)]);
      // Deciding with it binds the decision to the evidence above, as the approval page does.
      const digest = await client.getDecisionEvidence(p.id).then(
        (e) => e.evidenceDigest,
        () => undefined,
      );
      if (digest) rows.push(['Evidence', digest]);
      rows.push([
        'Decide',
        `champion approve ${p.id}${digest ? ` --evidence ${digest}` : ''}  (or: champion reject ${p.id})`,
      ]);
      out.push(fields(rows));
    }

    const result = p.result;
    if (result) {
      const rows: [string, string][] = [
        ['Outcome', result.outcome],
        ['Reason', result.reason],
        ['Slot', orNone(result.release?.slot)],
        ['Git commit', orNone(result.release?.gitSha)],
      ];
      if (result.release?.endpointName) rows.push(['Endpoint', result.release.endpointName]);
      if (result.decision) {
        const d = result.decision;
        const verb = d.decision === 'approve' ? 'approved' : 'rejected';
        rows.push([
          'Decision',
          `${verb} by ${d.approver} via ${d.via} at ${formatTime(d.at)}${d.comment ? `: "${d.comment}"` : ''}`,
        ]);
      }
      if (result.failure) rows.push(['Failure', `${result.failure.code}: ${result.failure.message}`]);
      out.push('', 'Result', fields(rows));
    }
    println(io.stdout, out.join('\n'));
    return 0;
  },
};

/** The workspace's name from its ARM id (the last segment). */
const workspaceName = (id: string) => id.slice(id.lastIndexOf('/') + 1);

/** Who registered the version, as the registry recorded it: a person's name, or an application's id and its kind. */
function registeredBy(registrant: Registrant): [string, string] {
  return ['Registered by', registrant.type ? `${registrant.name} (${registrant.type})` : registrant.name];
}
