import type { ApprovalDecision } from '../../orchestrations/contract';
import type { CommandSpec } from '../args';
import { printJson, println } from '../io';

function decisionCommand(decision: ApprovalDecision['decision']): CommandSpec {
  const verb = decision === 'approve' ? 'Approve' : 'Reject';
  return {
    name: decision,
    summary: `${verb} a promotion waiting for a decision`,
    description:
      `${verb}s a promotion that is waiting for a decision (phase awaiting-approval), in your name, via the CLI.\n` +
      (decision === 'approve'
        ? 'The person who registered the model cannot approve it, and the policy may limit who can.'
        : 'The staged version becomes unstaged, its test deployment is removed and the champion keeps serving.') +
      '\nIt answers once the promotion has taken the decision; when another decision got there first, it says\n' +
      'which one and exits 1.',
    args: [{ name: 'ID', description: 'the promotion id, e.g. promote:demand:3' }],
    options: [
      {
        name: 'as',
        value: 'NAME',
        description: "off Azure, who decides (default: the app's local user); on Azure, your signed-in identity",
      },
      { name: 'comment', value: 'TEXT', description: 'why, recorded with the decision' },
      {
        name: 'evidence',
        value: 'DIGEST',
        description: 'decide on the evidence `champion show ID` printed: refused if it changed since',
      },
    ],
    examples: [
      decision === 'approve'
        ? "champion approve promote:demand:3 --comment 'error down 4%'"
        : "champion reject promote:demand:3 --as alice@contoso.com --comment 'drift in the EU segment'",
    ],
    async run({ io, client, json, args, options }) {
      const id = args.ID ?? '';
      const response = await client.decide(id, {
        decision,
        ...(options.as !== undefined ? { approver: options.as } : {}),
        ...(options.comment !== undefined ? { comment: options.comment } : {}),
        ...(options.evidence !== undefined ? { evidenceDigest: options.evidence } : {}),
      });
      if (json) {
        printJson(io, response);
        return 0;
      }
      if (response.pending) {
        println(io.stdout, `Sent the decision to ${id}; it has not taken it yet (it takes the first it receives).`);
        println(io.stdout, `Check which one it took with: champion show ${id}`);
        return 0;
      }
      const as = response.approver ?? options.as;
      println(io.stdout, `${decision === 'approve' ? 'Approved' : 'Rejected'} ${id}${as ? ` as ${as}` : ''}.`);
      println(io.stdout, `The promotion continues on its own; follow it with: champion show ${id}`);
      return 0;
    },
  };
}

export const approve = decisionCommand('approve');
export const reject = decisionCommand('reject');
