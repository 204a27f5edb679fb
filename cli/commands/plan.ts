/** How `--dry-run` prints a plan: what would happen, in the order it would, then every ARM write. */
import type { ArmWrite } from '../../lib/domain/promotion-plan';
import type { TagWrite } from '../../lib/domain/stages';
import type { PromotionDryRun, RetrainingPlan } from '../../lib/dry-run';

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

export function promotionPlanLines({ start, plan }: PromotionDryRun): string[] {
  const lines = [`Dry run of ${plan.modelName}:${plan.modelVersion}: nothing was changed.`, '', plan.summary, ''];
  lines.push(
    start.wouldStart
      ? `Start: ${start.id} would start.`
      : `Start: refused now (${start.refusal ?? `${start.id} exists`}); the plan is what ${plan.promotionId} ${plan.promotionId === start.id ? 'does from here' : 'would do'}.`,
  );
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
