/** How `--dry-run` prints a plan: what would happen, in the order it would, then every ARM write. */
import type { ArmWrite, PromotionPlan } from '../../lib/domain/promotion-plan';
import type { TagWrite } from '../../lib/domain/stages';
import type { EnvironmentPlan, PromotionDryRun, RetrainingPlan } from '../../lib/dry-run';

const tags = (writes: TagWrite[]): string =>
  writes.length === 0
    ? 'none'
    : writes
        .map(
          (w) =>
            `${w.version}: ${Object.entries(w.set ?? {})
              .map(([k, v]) => `${k}=${v}`)
              .join(', ')}`,
        )
        .join('; ');

function armWrites(writes: ArmWrite[]): string[] {
  if (writes.length === 0) return ['ARM writes: none'];
  return [
    `ARM writes (${writes.length}):`,
    ...writes.flatMap((w, i) => [`  ${i + 1}. ${w.method} ${w.path}`, `     ${w.body}`, `     when: ${w.when}`]),
  ];
}

export function promotionPlanLines({ start, plan, environments, freeze }: PromotionDryRun): string[] {
  // Across environments the plan is an environment's promotion's (`{id}@{environment}`): its parent acts.
  const acting = plan.promotionId.replace(/@[^@]*$/, '');
  const lines = [`Dry run of ${plan.modelName}:${plan.modelVersion}: nothing was changed.`, ''];
  if (environments)
    lines.push(
      `Across ${environments.map((e) => e.name).join(' → ')}: ${environments.map(environmentOutline).join('; ')}`,
    );
  else lines.push(plan.summary);
  lines.push('');
  lines.push(
    start.wouldStart
      ? `Start: ${start.id} would start.`
      : `Start: refused now (${start.refusal ?? `${start.id} exists`}); the plan is what ${acting} ${acting === start.id ? 'does from here' : 'would do'}.`,
  );
  if (freeze) lines.push(`Freeze: ${freeze.holds}; a release reaching it now would wait.`);
  if (!environments) return [...lines, ...planBody(plan)];
  for (const environment of environments) lines.push('', ...environmentLines(environment));
  return lines;
}

function environmentOutline(e: EnvironmentPlan): string {
  if (e.carried) return `${e.name} serves it already (${e.carried.promotionId})`;
  if (e.plan) return `${e.name} ${e.plan.verdict}`;
  return `${e.name} not reached`;
}

function environmentLines(e: EnvironmentPlan): string[] {
  const lines = [`== ${e.name}: ${e.endpointName} in ${e.workspace}`];
  if (e.carried)
    return [...lines, `Promoted there by ${e.carried.promotionId}, and in production still: nothing is done there.`];
  if (e.gate) {
    const g = e.gate;
    lines.push(
      g.kind === 'approval'
        ? `Gate: approval of ${g.approvers ? g.approvers.join(', ') : 'anyone holding a link'}; expires after ${g.timeout}, then ${g.onTimeout}`
        : `Gate: a bake of ${g.bake} in ${g.in}, at most ${g.maxErrorRate * 100} % of requests answered 5xx`,
    );
  }
  if (e.copy) {
    const c = e.copy;
    const through = c.registry ? ` through ${c.registry.id}${c.registry.has ? ' (which has it already)' : ''}` : '';
    lines.push(
      c.problem
        ? `Copy from ${c.from}: refused: ${c.problem}`
        : c.registered
          ? `Copy from ${c.from}: registered there already, with its lineage: used as it is`
          : `Copy from ${c.from}${through}, then registered with its lineage`,
    );
    if (c.uploads.length > 0) lines.push(`Uploads (${c.uploads.length}): ${c.uploads.join('; ')}`);
    if (c.armWrites.length > 0)
      lines.push(...armWrites(c.armWrites).map((l) => (l.startsWith('ARM') ? `Copy's ${l}` : l)));
  }
  if (e.notReached) return [...lines, `Not reached: ${e.notReached}`];
  if (e.plan) lines.push(e.plan.summary, ...planBody(e.plan));
  return lines;
}

/** A plan's steps in the order they would happen, then its ARM writes. */
function planBody(plan: PromotionPlan): string[] {
  const lines: string[] = [];
  const endpoint = plan.endpoint;
  lines.push(
    `Endpoint: ${endpoint.name} ${endpoint.preparation === 'create' ? 'would be created' : endpoint.preparation === 'ready' ? 'exists' : 'is provisioning: the promotion waits for it'}`,
  );
  if (plan.slot) {
    const s = plan.slot;
    lines.push(
      `Slot: ${s.challenger}${s.deploy ? `, deployed at 0 %${s.replaces ? ` (replacing ${s.replaces})` : ''}` : ', already holds it: used as it is'}` +
        `${s.waitForDelete ? ', after its delete finishes' : ''}; champion: ${s.champion ?? 'none'}`,
    );
  }
  if (plan.smokeTest)
    lines.push(
      `Smoke test: ${plan.smokeTest.requests} request(s) through ${plan.smokeTest.through}, within ${plan.smokeTest.latencyBudgetMs} ms each`,
    );
  const e = plan.evaluation;
  lines.push(
    e.previewed
      ? `Evaluation (${e.mode}, previewed through ${e.through}): ${e.decision}: ${e.reason}`
      : `Evaluation (${e.mode}): cannot be previewed: ${e.why}`,
  );
  if (plan.verdict === 'would-stage') {
    lines.push(`Stage tags: ${tags(plan.stageTags)}`);
    if (plan.displaces)
      lines.push(
        `Displaces: ${plan.displaces.version}${plan.displaces.promotionId ? ` (${plan.displaces.promotionId}, told it is superseded)` : ''}`,
      );
    const a = plan.approval;
    const who = a.approvers ? a.approvers.join(', ') : 'anyone holding a link';
    lines.push(
      `Approval: ${a.asked === 'yes' ? `asked of ${who}` : a.asked === 'no' ? 'not asked' : `asked of ${who} only if the evaluation is inconclusive`}` +
        `${a.asked !== 'no' ? `; expires after ${a.timeout}, then ${a.onTimeout}` : ''}` +
        `${a.registrant ? `; ${a.registrant.name} registered it${a.registrant.type ? ` (${a.registrant.type})` : ''}` : ''}`,
    );
    if (plan.traffic) {
      lines.push(`Traffic: ${plan.traffic.steps.map((t) => JSON.stringify(t)).join(' → ')}`);
      lines.push(`Rollback: ${JSON.stringify(plan.traffic.rollback)}`);
    }
    lines.push(`Production tags: ${tags(plan.productionTags)}`);
  }
  lines.push('', ...armWrites(plan.armWrites));
  return lines;
}

export function retrainingPlanLines(plan: RetrainingPlan): string[] {
  const lines = [`Dry run of a retraining of ${plan.modelName}: nothing was changed.`, '', plan.summary, ''];
  const d = plan.guard.decision;
  lines.push(
    `Guard: ${d.action} (${d.reason}: ${d.detail})${plan.guard.runId ? ` → ${plan.guard.runId}` : ''}${plan.guard.activeRun ? `; running: ${plan.guard.activeRun}` : ''}`,
  );
  lines.push(`Job spec: ${plan.jobSpec.path}${plan.jobSpec.problem ? `: ${plan.jobSpec.problem}` : ''}`);
  if (plan.environment)
    lines.push(
      `Environment: ${plan.environment.name}:${plan.environment.version} (${plan.environment.exists ? 'exists' : 'would be created'})`,
    );
  if (plan.dataChecks) {
    lines.push(`Data checks: ${plan.dataChecks.ok ? 'pass' : 'FAIL'}`);
    lines.push(...plan.dataChecks.report.split('\n').map((l) => `  ${l}`));
  }
  if (plan.code)
    lines.push(
      `Code: ${plan.code.name}:${plan.code.version} (${plan.code.files} file(s); ${plan.code.exists ? 'registered already' : `would be uploaded to ${plan.code.uploadFolder} and registered`})`,
    );
  if (plan.job) lines.push(`Job ${plan.job.name}, as it would be sent:`, JSON.stringify(plan.job.body, null, 2));
  if (plan.approval)
    lines.push(
      `Approval before registration: asked of ${plan.approval.approvers ? plan.approval.approvers.join(', ') : 'anyone holding a link'}; expires after ${plan.approval.timeout}, then ${plan.approval.onTimeout}`,
    );
  if (plan.uploads.length > 0) lines.push(`Uploads (${plan.uploads.length}): ${plan.uploads.join(', ')}`);
  lines.push('', ...armWrites(plan.armWrites));
  return lines;
}
