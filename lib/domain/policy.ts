/**
 * Promotion policies: one validated policy per model, parsed from JSON.
 *
 * `parsePolicies` accepts `{ "policies": [ ... ] }` and either returns the policies keyed by model name or throws a
 * `PolicyError` whose message starts with the exact key path of the first bad field, e.g.
 * `policies[0].rollout.steps[2]: must be between 1 and 100`.
 *
 * Durations are ISO-8601 (`PT24H`, `P1D`, `PT90S`) or a number of seconds; the parsed policy keeps what was written
 * and adds the value in milliseconds (`approval.timeoutMs`, `rollout.provisioningDeadlineMs`,
 * `retraining.cooldownMs`). `minImprovement` and guardrail margins are absolute, in the metric's own units.
 */
import { z } from 'zod';
import { ARM_NAME_RULES, type ArmNameKind } from './names';
import { nameProblem } from './people';
import { registryIdProblem, sameWorkspace, workspaceIdProblem } from './workspace-id';
import {
  CLASSIFICATION_METRICS,
  DEFAULT_BOOTSTRAP_SAMPLES,
  DEFAULT_BOOTSTRAP_SEED,
  DEFAULT_CONFIDENCE,
  DEFAULT_MIN_SAMPLES,
  REGRESSION_METRICS,
  isMetricForTask,
  metricDirection,
  metricsForTask,
  type MetricName,
  type Task,
} from './evaluation';

// ---------------------------------------------------------------------------------------------------------------
// ISO-8601 durations

export class DurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DurationError';
  }
}

const DURATION_PATTERN =
  /^P(?:(?<years>\d+(?:[.,]\d+)?)Y)?(?:(?<months>\d+(?:[.,]\d+)?)M)?(?:(?<weeks>\d+(?:[.,]\d+)?)W)?(?:(?<days>\d+(?:[.,]\d+)?)D)?(?:T(?:(?<hours>\d+(?:[.,]\d+)?)H)?(?:(?<minutes>\d+(?:[.,]\d+)?)M)?(?:(?<seconds>\d+(?:[.,]\d+)?)S)?)?$/;

const MS_PER = { weeks: 604_800_000, days: 86_400_000, hours: 3_600_000, minutes: 60_000, seconds: 1000 } as const;

/**
 * Milliseconds in an ISO-8601 duration such as `PT24H`, `P1DT12H`, `PT0.5S` or `P2W`. Years and months are
 * refused because their length depends on the calendar; use days.
 */
export function parseIsoDuration(text: string): number {
  const trimmed = text.trim().toUpperCase();
  const match = DURATION_PATTERN.exec(trimmed);
  if (!match?.groups || trimmed === 'P' || trimmed.endsWith('T')) {
    throw new DurationError(`'${text}' is not an ISO-8601 duration (expected e.g. PT24H, P1D, PT30M or PT90S)`);
  }
  const groups = match.groups;
  if (groups.years !== undefined || groups.months !== undefined) {
    throw new DurationError(`'${text}' uses years or months, which have no fixed length: use days (e.g. P30D)`);
  }
  let total = 0;
  for (const unit of Object.keys(MS_PER) as (keyof typeof MS_PER)[]) {
    const value = groups[unit];
    if (value !== undefined) total += Number(value.replace(',', '.')) * MS_PER[unit];
  }
  return Math.round(total);
}

/** Milliseconds in a duration given as ISO-8601 text or as a number of seconds. */
export function durationToMilliseconds(duration: string | number): number {
  if (typeof duration === 'number') {
    if (!Number.isFinite(duration) || duration < 0) {
      throw new DurationError(`a duration in seconds must be a finite number ≥ 0, got ${duration}`);
    }
    return Math.round(duration * 1000);
  }
  return parseIsoDuration(duration);
}

// ---------------------------------------------------------------------------------------------------------------
// NCRONTAB (Azure Functions timer schedules: second minute hour day month day-of-week)

const NCRONTAB_FIELDS = [
  { name: 'second', min: 0, max: 59, names: [] as string[] },
  { name: 'minute', min: 0, max: 59, names: [] as string[] },
  { name: 'hour', min: 0, max: 23, names: [] as string[] },
  { name: 'day', min: 1, max: 31, names: [] as string[] },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  },
  { name: 'day-of-week', min: 0, max: 6, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

/** Why an NCRONTAB expression is invalid, or undefined when it is valid. */
export function ncrontabError(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 6) {
    return `must have 6 fields (second minute hour day month day-of-week), got ${expression.trim() === '' ? 0 : fields.length}`;
  }
  for (const [index, field] of fields.entries()) {
    const spec = NCRONTAB_FIELDS[index] as (typeof NCRONTAB_FIELDS)[number];
    const value = (text: string): number | undefined => {
      const named = spec.names.indexOf(text.toUpperCase());
      if (named >= 0) return spec.min + named;
      return /^\d+$/.test(text) ? Number(text) : undefined;
    };
    for (const item of (field as string).split(',')) {
      const [range, step, extra] = item.split('/');
      const bad = `${spec.name} field '${field}' is invalid`;
      if (extra !== undefined || range === undefined || range === '') return bad;
      if (step !== undefined && !(/^\d+$/.test(step) && Number(step) > 0))
        return `${bad}: step must be a positive number`;
      if (range === '*') continue;
      const bounds = range.split('-');
      if (bounds.length > 2) return bad;
      const values = bounds.map(value);
      for (const bound of values) {
        if (bound === undefined) return bad;
        if (bound < spec.min || bound > spec.max) return `${bad}: values must be between ${spec.min} and ${spec.max}`;
      }
      if (values.length === 2 && (values[0] as number) > (values[1] as number)) return `${bad}: range is reversed`;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Schema

const ALL_METRICS = [...REGRESSION_METRICS, ...CLASSIFICATION_METRICS] as const;

const durationSchema = z
  .union([z.string(), z.number()], { error: 'must be an ISO-8601 duration (e.g. PT24H) or a number of seconds' })
  .superRefine((value, context) => {
    try {
      if (durationToMilliseconds(value) <= 0) context.addIssue({ code: 'custom', message: 'must be longer than 0' });
    } catch (error) {
      context.addIssue({ code: 'custom', message: (error as Error).message });
    }
  });

const nonEmpty = z.string().trim().min(1, 'must not be empty');

const armName = (kind: ArmNameKind) => z.string().regex(ARM_NAME_RULES[kind].pattern, ARM_NAME_RULES[kind].rule);

const assetVersion = z
  .union([nonEmpty, z.number().int().min(1)], { error: 'must be a version string or number' })
  .transform(String)
  .pipe(armName('version'));

const dataAssetSchema = z.strictObject({ name: armName('asset'), version: assetVersion });

const percentStep = z
  .number()
  .int('must be a whole percentage')
  .min(1, 'must be between 1 and 100')
  .max(100, 'must be between 1 and 100');

const guardrailSchema = z.strictObject({
  metric: z.enum(ALL_METRICS),
  margin: z.number().min(0, 'must be ≥ 0'),
});

const evaluationSchema = z
  .strictObject({
    mode: z.enum(['paired', 'recorded']).default('paired'),
    dataAsset: dataAssetSchema.optional(),
    labelColumn: nonEmpty.default('label'),
    minSamples: z.number().int().min(1).default(DEFAULT_MIN_SAMPLES),
    bootstrapSamples: z
      .number()
      .int()
      .min(100, 'must be between 100 and 100000')
      .max(100_000, 'must be between 100 and 100000')
      .default(DEFAULT_BOOTSTRAP_SAMPLES),
    seed: z.number().int().min(0).max(0xffffffff).default(DEFAULT_BOOTSTRAP_SEED),
    confidence: z
      .number()
      .min(0.5, 'must be at least 0.5 and below 1')
      .lt(1, 'must be at least 0.5 and below 1')
      .default(DEFAULT_CONFIDENCE),
    /** Positive class for F1 and AUC when the labels are not 0/1 or true/false. */
    positiveLabel: z.union([z.string(), z.number(), z.boolean()]).optional(),
    whenNoChampion: z.enum(['win', 'inconclusive']).default('win'),
  })
  .superRefine((evaluation, context) => {
    if (evaluation.mode === 'paired' && evaluation.dataAsset === undefined) {
      context.addIssue({ code: 'custom', path: ['dataAsset'], message: 'is required when mode is "paired"' });
    }
  });

const approvalSchema = z
  .strictObject({
    required: z.boolean().default(true),
    timeout: durationSchema.default('PT24H'),
    onTimeout: z.enum(['reject', 'approve']).default('reject'),
    approvers: z
      .array(
        nonEmpty.superRefine((name, ctx) => {
          const problem = nameProblem(name);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }),
      )
      .min(1, 'must list at least one approver when given')
      .optional(),
    /** How long before the request expires the approvers are reminded (once); absent: no reminder. */
    remindBefore: durationSchema.optional(),
  })
  .superRefine((approval, context) => {
    if (approval.remindBefore === undefined) return;
    let fits: boolean;
    try {
      fits = durationToMilliseconds(approval.remindBefore) < durationToMilliseconds(approval.timeout);
    } catch {
      return; // the bad duration is reported on its own field
    }
    if (!fits) {
      context.addIssue({
        code: 'custom',
        path: ['remindBefore'],
        message: `must be shorter than approval.timeout (${approval.timeout}): the reminder comes before the request expires`,
      });
    }
  })
  .transform(({ remindBefore, ...approval }) => ({
    ...approval,
    timeoutMs: durationToMilliseconds(approval.timeout),
    ...(remindBefore !== undefined ? { remindBefore, remindBeforeMs: durationToMilliseconds(remindBefore) } : {}),
  }));

const goldenCaseSchema = z
  .strictObject({
    input: z.unknown(),
    expected: z.unknown(),
    /** Absolute tolerance for numeric outputs. */
    tolerance: z.number().min(0, 'must be ≥ 0').default(0),
  })
  .superRefine((golden, context) => {
    if (golden.input === undefined) context.addIssue({ code: 'custom', path: ['input'], message: 'is required' });
    if (golden.expected === undefined) context.addIssue({ code: 'custom', path: ['expected'], message: 'is required' });
  });

const testSpecSchema = z
  .strictObject({
    /** Request rows sent to the new deployment; it must answer each within the latency budget. */
    sampleRows: z.array(z.unknown()).min(1, 'must have at least one row when given').optional(),
    /** Requests with known answers. */
    goldenCases: z.array(goldenCaseSchema).min(1, 'must have at least one case when given').optional(),
    latencyBudgetMs: z.number().positive('must be > 0').default(1000),
    /** JSON Schema the responses must satisfy. */
    responseSchema: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((spec, context) => {
    if (spec.sampleRows === undefined && spec.goldenCases === undefined) {
      context.addIssue({ code: 'custom', message: 'needs sampleRows or goldenCases' });
    }
  });

/**
 * The deployment's `requestSettings`. Azure ML defaults `maxConcurrentRequestsPerInstance` to 1 and answers 429
 * beyond 2 × maxConcurrentRequestsPerInstance × instances requests in parallel (troubleshooting guide, "HTTP status
 * codes": 429 Too many pending requests); the evaluation keeps within it.
 */
const requestSettingsSchema = z
  .strictObject({
    maxConcurrentRequestsPerInstance: z.number().int().min(1).default(1),
    /** How long one scoring request may take (Azure's default is 5 s). */
    requestTimeout: durationSchema.optional(),
  })
  .transform(({ maxConcurrentRequestsPerInstance, requestTimeout }) => ({
    maxConcurrentRequestsPerInstance,
    // As the deployment takes it: an ISO-8601 duration.
    ...(requestTimeout === undefined ? {} : { requestTimeout: `PT${durationToMilliseconds(requestTimeout) / 1000}S` }),
  }));

/**
 * How each rollout step is judged (lib/domain/judge.ts): the challenger against the champion over the step's window,
 * each metric with the degradation it is allowed (absolute, in the metric's units). Metrics left out are not judged;
 * without `metrics`, the task's defaults below. Counts come from the endpoint's Azure Monitor metrics; latencies and
 * prediction agreement from `replaySampleSize` rows of the evaluation data replayed to both slots.
 */
const analysisMetricsSchema = z
  .strictObject({
    /** Allowed increase of the share of requests answered 5xx (0.02 = two percentage points). */
    errorRate: z
      .strictObject({ maxIncrease: z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1') })
      .optional(),
    /** Allowed shift of a typical request's latency, in ms (Hodges–Lehmann, Mann–Whitney interval). */
    latency: z.strictObject({ maxIncreaseMs: z.number().min(0, 'must be ≥ 0') }).optional(),
    /** Allowed increase of the 95th percentile latency, in ms (bootstrap interval). */
    latencyP95: z.strictObject({ maxIncreaseMs: z.number().min(0, 'must be ≥ 0') }).optional(),
    /** Classification: allowed share of replayed rows the two slots answer differently. */
    disagreement: z
      .strictObject({ max: z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1') })
      .optional(),
    /** Regression: allowed mean absolute difference of the two slots' predictions, in target units. */
    predictionDifference: z.strictObject({ maxMeanAbsolute: z.number().min(0, 'must be ≥ 0') }).optional(),
  })
  .superRefine((metrics, context) => {
    if (Object.values(metrics).every((metric) => metric === undefined)) {
      context.addIssue({
        code: 'custom',
        message: 'must name at least one metric (errorRate, latency, latencyP95, disagreement, predictionDifference)',
      });
    }
  });

/** Defaults of `rollout.analysis` (documented in the README). */
export const DEFAULT_ANALYSIS = {
  metrics: {
    errorRate: { maxIncrease: 0.02 },
    latency: { maxIncreaseMs: 100 },
    latencyP95: { maxIncreaseMs: 250 },
  },
  /** Classification adds this to the default metrics. */
  classificationMetrics: { disagreement: { max: 0.05 } },
  minRequests: 100,
  minSamples: 50,
  confidence: 0.95,
  replaySampleSize: 100,
  maxReplaySampleSize: 1000,
  onInconclusive: 'pause',
} as const;

const analysisSchema = z.strictObject({
  metrics: analysisMetricsSchema.optional(),
  /** Requests each slot must have answered in the window before the error rate may pass. */
  minRequests: z.number().int('must be a whole number').min(1, 'must be ≥ 1').default(DEFAULT_ANALYSIS.minRequests),
  /** Replayed samples each latency or agreement metric needs before it may pass. */
  minSamples: z.number().int('must be a whole number').min(1, 'must be ≥ 1').default(DEFAULT_ANALYSIS.minSamples),
  confidence: z
    .number()
    .min(0.5, 'must be at least 0.5 and below 1')
    .lt(1, 'must be at least 0.5 and below 1')
    .default(DEFAULT_ANALYSIS.confidence),
  /** Rows of the evaluation data replayed to both slots at each judgement; 0 = none (latency and agreement then cannot pass). */
  replaySampleSize: z
    .number()
    .int('must be a whole number')
    .min(0, `must be between 0 and ${DEFAULT_ANALYSIS.maxReplaySampleSize}`)
    .max(DEFAULT_ANALYSIS.maxReplaySampleSize, `must be between 0 and ${DEFAULT_ANALYSIS.maxReplaySampleSize}`)
    .default(DEFAULT_ANALYSIS.replaySampleSize),
  bootstrapSamples: z
    .number()
    .int()
    .min(100, 'must be between 100 and 100000')
    .max(100_000, 'must be between 100 and 100000')
    .default(DEFAULT_BOOTSTRAP_SAMPLES),
  seed: z.number().int().min(0).max(0xffffffff).default(DEFAULT_BOOTSTRAP_SEED),
  /** What a step that is neither Pass nor Fail does: wait for a person, or go back to the champion. */
  onInconclusive: z.enum(['pause', 'abort']).default(DEFAULT_ANALYSIS.onInconclusive),
});

/**
 * Mirror phase before live traffic: a copy of `percent` % of the live requests goes to the challenger, whose answers
 * are dropped. Azure ML caps mirror traffic at 50 % (REST spec OnlineEndpoint `mirrorTraffic`: "Traffic values need
 * to sum to utmost 50"), and only to a deployment that takes no live traffic (the safe-rollout guide, "Test the
 * deployment with mirrored traffic").
 */
const mirrorSchema = z.strictObject({
  percent: z
    .number()
    .int('must be a whole percentage')
    .min(1, 'must be between 1 and 50 (Azure ML mirrors at most 50 %)')
    .max(50, 'must be between 1 and 50 (Azure ML mirrors at most 50 %)'),
  duration: durationSchema,
});

const STRATEGIES = ['all-at-once', 'canary', 'linear'] as const;
export type RolloutStrategy = (typeof STRATEGIES)[number];

/** Challenger percentages of a linear rollout: +increment each step, the last capped at 100. */
export function linearSteps(increment: number): number[] {
  const steps: number[] = [];
  for (let percent = increment; percent < 100; percent += increment) steps.push(percent);
  steps.push(100);
  return steps;
}

const rolloutSchema = z
  .strictObject({
    instanceType: nonEmpty,
    instanceCount: z.number().int().min(1).default(1),
    /**
     * A custom model's scoring script (a code asset version id and the script's path in it) and the environment it
     * runs in (an environment version id). An MLflow model needs neither: Azure generates both.
     */
    codeConfiguration: z.strictObject({ codeId: nonEmpty, scoringScript: nonEmpty }).optional(),
    environment: nonEmpty.optional(),
    requestSettings: requestSettingsSchema.prefault({}),
    /**
     * How traffic moves: `all-at-once` (one step to 100 %), `canary` (the percentages in `steps`), `linear`
     * (+`increment` % a step). Absent: the percentages in `steps` (default [100]), as before strategies existed.
     */
    strategy: z.enum(STRATEGIES).optional(),
    /** Challenger traffic percentages, strictly increasing, ending at 100. */
    steps: z.array(percentStep).min(1, 'must have at least one step').optional(),
    /** Percent added at each step of a linear rollout. */
    increment: z
      .number()
      .int('must be a whole percentage')
      .min(1, 'must be between 1 and 99')
      .max(99, 'must be between 1 and 99')
      .optional(),
    /** How long each step below 100 % serves before the next one (absent: the next step follows at once). */
    bake: durationSchema.optional(),
    mirror: mirrorSchema.optional(),
    /** The longest a rollout may take from its first traffic change, pauses included; past it, it is aborted. */
    maxDuration: durationSchema.optional(),
    /**
     * How long the previous champion stays deployed (warm, at 0 %) after a release, so a rollback is one traffic
     * update; then it is removed. Absent: it stays until the next challenger replaces it.
     */
    rollbackWindow: durationSchema.optional(),
    provisioningDeadline: durationSchema.default('PT1H'),
    testSpec: testSpecSchema,
    /** Absent: the steps of a progressive rollout pass once baked, unjudged. `{}` judges them with the defaults. */
    analysis: analysisSchema.optional(),
  })
  .superRefine((rollout, context) => {
    if (rollout.codeConfiguration && rollout.environment === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['environment'],
        message: 'is required with codeConfiguration: the scoring script runs in this environment',
      });
    }
    if (rollout.environment !== undefined && !rollout.codeConfiguration) {
      context.addIssue({
        code: 'custom',
        path: ['codeConfiguration'],
        message: 'is required with environment: a custom model is deployed with its scoring script',
      });
    }
    const { strategy, steps, increment } = rollout;
    if (increment !== undefined && strategy !== 'linear')
      context.addIssue({ code: 'custom', path: ['increment'], message: 'is only for strategy "linear"' });
    if (strategy === 'linear') {
      if (increment === undefined)
        context.addIssue({ code: 'custom', path: ['increment'], message: 'is required with strategy "linear"' });
      if (steps !== undefined)
        context.addIssue({
          code: 'custom',
          path: ['steps'],
          message: 'is not for strategy "linear" (its steps follow from increment)',
        });
    }
    if (strategy === 'all-at-once' && steps !== undefined && !(steps.length === 1 && steps[0] === 100))
      context.addIssue({
        code: 'custom',
        path: ['steps'],
        message: 'must be absent or [100] with strategy "all-at-once"',
      });
    if (strategy === 'canary' && (steps === undefined || steps.length < 2))
      context.addIssue({
        code: 'custom',
        path: ['steps'],
        message: 'needs at least two steps with strategy "canary" (e.g. [10, 100])',
      });
    if (steps) {
      steps.forEach((step, index) => {
        const previous = steps[index - 1];
        if (previous !== undefined && step <= previous) {
          context.addIssue({
            code: 'custom',
            path: ['steps', index],
            message: `must be greater than the previous step (${previous})`,
          });
        }
      });
      if (steps[steps.length - 1] !== 100) {
        context.addIssue({ code: 'custom', path: ['steps', steps.length - 1], message: 'the last step must be 100' });
      }
    }
    if (rollout.maxDuration !== undefined) {
      const planned = plannedDurationMs(rollout);
      if (planned !== undefined && planned > safeMs(rollout.maxDuration))
        context.addIssue({
          code: 'custom',
          path: ['maxDuration'],
          message: `is shorter than the mirror phase and bakes it allows for (${planned / 1000} s)`,
        });
    }
  })
  .transform(({ steps, increment, bake, mirror, maxDuration, rollbackWindow, ...rollout }) => {
    const strategy: RolloutStrategy =
      rollout.strategy ?? (steps !== undefined && steps.length > 1 ? 'canary' : 'all-at-once');
    return {
      ...rollout,
      strategy,
      steps: strategy === 'linear' ? linearSteps(increment ?? 100) : (steps ?? [100]),
      ...(increment === undefined ? {} : { increment }),
      bakeMs: bake === undefined ? 0 : durationToMilliseconds(bake),
      ...(mirror === undefined
        ? {}
        : {
            mirror: {
              percent: mirror.percent,
              duration: mirror.duration,
              durationMs: durationToMilliseconds(mirror.duration),
            },
          }),
      ...(maxDuration === undefined ? {} : { maxDurationMs: durationToMilliseconds(maxDuration) }),
      ...(rollbackWindow === undefined ? {} : { rollbackWindowMs: durationToMilliseconds(rollbackWindow) }),
      provisioningDeadlineMs: durationToMilliseconds(rollout.provisioningDeadline),
    };
  });

/** A duration already checked by its own schema may still be invalid when the object is refined: 0 then. */
function safeMs(duration: string | number | undefined): number {
  if (duration === undefined) return 0;
  try {
    return durationToMilliseconds(duration);
  } catch {
    return 0;
  }
}

/** The bakes and mirror phase a rollout's steps take at least (undefined when its steps are invalid). */
function plannedDurationMs(rollout: {
  strategy?: RolloutStrategy;
  steps?: number[];
  increment?: number;
  bake?: string | number;
  mirror?: { duration: string | number };
}): number | undefined {
  const steps = rollout.strategy === 'linear' ? linearSteps(rollout.increment ?? 100) : (rollout.steps ?? [100]);
  const below100 = steps.filter((step) => step < 100).length;
  return safeMs(rollout.bake) * below100 + safeMs(rollout.mirror?.duration);
}

const retrainingSchema = z
  .strictObject({
    /** NCRONTAB (6 fields, seconds first), as Azure Functions timer triggers use. */
    schedule: z
      .string()
      .superRefine((schedule, context) => {
        const problem = ncrontabError(schedule);
        if (problem) context.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    /** Minimum time between two retraining runs of this model. */
    cooldown: durationSchema.default('P1D'),
    /** Retrain when k of the last n data checks failed. */
    kOfN: z
      .strictObject({ k: z.number().int().min(1), n: z.number().int().min(1) })
      .superRefine((kOfN, context) => {
        if (kOfN.k > kOfN.n) context.addIssue({ code: 'custom', path: ['k'], message: `must be ≤ n (${kOfN.n})` });
      })
      .optional(),
    /** Version omitted = latest. */
    trainingDataAsset: z.strictObject({ name: armName('asset'), version: assetVersion.optional() }),
    /** Reference to the training job specification (e.g. a job YAML path or a registered component). */
    jobSpec: nonEmpty,
    /**
     * A person's approval between "trained, metrics known" and "registered", through the same links and decision
     * routes as a promotion's; rejected or timed out (onTimeout "reject"), the job's output stays unregistered.
     */
    approval: approvalSchema.optional(),
  })
  .transform((retraining) => ({ ...retraining, cooldownMs: durationToMilliseconds(retraining.cooldown) }));

function resolveAnalysis(
  given: z.output<typeof analysisSchema>,
  policy: { task: Task; evaluation: { dataAsset?: { name: string; version: string }; labelColumn: string } },
) {
  const { metrics, ...analysis } = given;
  // Without replayed rows only the error rate can be judged: the defaults then judge it alone.
  const canReplay = policy.evaluation.dataAsset !== undefined && analysis.replaySampleSize > 0;
  const defaults = canReplay
    ? {
        ...DEFAULT_ANALYSIS.metrics,
        ...(policy.task === 'classification' ? DEFAULT_ANALYSIS.classificationMetrics : {}),
      }
    : { errorRate: DEFAULT_ANALYSIS.metrics.errorRate };
  return {
    ...analysis,
    metrics: metrics ?? defaults,
    task: policy.task,
    replay: policy.evaluation.dataAsset
      ? { dataAsset: policy.evaluation.dataAsset, labelColumn: policy.evaluation.labelColumn }
      : null,
  };
}

/** A time with its zone (ISO 8601 with Z or ±hh:mm): a freeze means the same instant wherever the app runs. */
const zonedTime = z
  .string({ error: 'must be an ISO 8601 time with a zone, e.g. 2026-11-27T00:00:00Z' })
  .refine((value) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(value), {
    message: 'must be an ISO 8601 time with a zone, e.g. 2026-11-27T00:00:00Z',
  })
  .refine((value) => Number.isFinite(Date.parse(value)), { message: 'is not a real time' });

/** A window in which no release of the model starts (lib/domain/freeze.ts): from `from` up to `until`. */
const freezeWindowSchema = z
  .strictObject({
    from: zonedTime,
    until: zonedTime,
    reason: nonEmpty.max(200, 'at most 200 characters'),
  })
  .superRefine((window, context) => {
    if (Date.parse(window.until) <= Date.parse(window.from))
      context.addIssue({ code: 'custom', path: ['until'], message: `must be after from (${window.from})` });
  });
/** How a later environment is entered: a person's approval (as a promotion's), or a bake without incidents. */
const gateSchema = z
  .strictObject({
    approval: approvalSchema.optional(),
    /** How long the version serves the previous environment without an incident before it moves on. */
    bake: durationSchema.optional(),
    /** During the bake, the share of the previous endpoint's requests answered 5xx beyond which it is an incident. */
    maxErrorRate: z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1').optional(),
  })
  .superRefine((gate, context) => {
    if ((gate.approval === undefined) === (gate.bake === undefined)) {
      context.addIssue({ code: 'custom', message: 'must give exactly one of approval or bake' });
    }
    if (gate.maxErrorRate !== undefined && gate.bake === undefined) {
      context.addIssue({ code: 'custom', path: ['maxErrorRate'], message: 'applies to a bake gate only' });
    }
  })
  .transform((gate) =>
    gate.approval
      ? { kind: 'approval' as const, approval: gate.approval }
      : {
          kind: 'bake' as const,
          bake: gate.bake!,
          bakeMs: durationToMilliseconds(gate.bake!),
          maxErrorRate: gate.maxErrorRate ?? DEFAULT_BAKE_MAX_ERROR_RATE,
        },
  );

/** A bake gate's default: more than 1 % of requests answered 5xx is an incident. */
export const DEFAULT_BAKE_MAX_ERROR_RATE = 0.01;

const environmentSchema = z.strictObject({
  /** Names it in ids, timelines and tags: lower-case letters, digits and "-". */
  name: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be 1–32 lower-case letters, digits or "-", starting with a letter'),
  /** The workspace's ARM id; the first must be the app's own (checked at start), whose ModelRegistered events start promotions. */
  workspace: z.string().superRefine((id, context) => {
    const problem = workspaceIdProblem(id);
    if (problem) context.addIssue({ code: 'custom', message: problem });
  }),
  /** The endpoint it serves on; the first environment's is the policy's endpointName. */
  endpointName: armName('endpoint').optional(),
  /**
   * An Azure ML registry's ARM id: the version reaches this environment through it (created there with its lineage,
   * then registered in this environment's workspace). Not for the first environment.
   */
  registry: z
    .string()
    .superRefine((id, context) => {
      const problem = registryIdProblem(id);
      if (problem) context.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
  /** Its own approval before release (default: the policy's). */
  approval: approvalSchema.optional(),
  /** Its own rollout (default: the policy's). */
  rollout: rolloutSchema.optional(),
  /** `rerun` the evaluation on this environment's data (`dataAsset`, default the policy's), or `reuse` the evidence. */
  evaluation: z
    .strictObject({ mode: z.enum(['rerun', 'reuse']).default('rerun'), dataAsset: dataAssetSchema.optional() })
    .superRefine((evaluation, context) => {
      if (evaluation.mode === 'reuse' && evaluation.dataAsset) {
        context.addIssue({ code: 'custom', path: ['dataAsset'], message: 'applies when mode is "rerun"' });
      }
    })
    .prefault({}),
  /** What must hold before the version enters this environment (every environment but the first). */
  gate: gateSchema.optional(),
});

export const policySchema = z
  .strictObject({
    modelName: armName('asset'),
    endpointName: armName('endpoint'),
    task: z.enum(['regression', 'classification']),
    /** Defaults to mse (regression) or accuracy (classification). */
    primaryMetric: z.enum(ALL_METRICS).optional(),
    /** δ: absolute, in primary-metric units. */
    minImprovement: z.number().min(0, 'must be ≥ 0').default(0),
    guardrails: z.array(guardrailSchema).default([]),
    evaluation: evaluationSchema,
    approval: approvalSchema.prefault({}),
    rollout: rolloutSchema,
    retraining: retrainingSchema.optional(),
    /** Windows in which releases wait (a promotion that reaches its release then waits for the window's end). */
    freezes: z.array(freezeWindowSchema).max(100, 'at most 100 windows').optional(),
    /**
     * QA → production: ordered environments, the first the policy's own (its workspace and endpoint); a version that
     * is promoted in one passes the next one's gate, is registered in its workspace with lineage, and is promoted there.
     */
    environments: z.array(environmentSchema).optional(),
  })
  .superRefine((policy, context) => {
    const environments = policy.environments;
    if (!environments) return;
    const at = (index: number, ...rest: (string | number)[]) => ['environments', index, ...rest];
    if (environments.length < 2) {
      context.addIssue({
        code: 'custom',
        path: ['environments'],
        message: 'must name at least two environments (the first is where the model is registered)',
      });
      return;
    }
    const names = new Map<string, number>();
    const workspaces = new Map<string, number>();
    environments.forEach((environment, index) => {
      const sameName = names.get(environment.name);
      if (sameName !== undefined) {
        context.addIssue({
          code: 'custom',
          path: at(index, 'name'),
          message: `'${environment.name}' is also environments[${sameName}].name`,
        });
      }
      names.set(environment.name, index);
      {
        const key = environment.workspace.toLowerCase();
        const sameWorkspace = workspaces.get(key);
        if (sameWorkspace !== undefined) {
          context.addIssue({
            code: 'custom',
            path: at(index, 'workspace'),
            message: `is also environments[${sameWorkspace}].workspace: each environment has its own workspace`,
          });
        }
        workspaces.set(key, index);
      }
      if (index === 0) {
        if (environment.gate !== undefined) {
          context.addIssue({
            code: 'custom',
            path: at(0, 'gate'),
            message: 'the first environment has no gate: a registered version enters it at once',
          });
        }
        if (environment.registry !== undefined) {
          context.addIssue({
            code: 'custom',
            path: at(0, 'registry'),
            message: 'the first environment is where the model is registered: a registry carries it to a later one',
          });
        }
        if (environment.evaluation.mode === 'reuse') {
          context.addIssue({
            code: 'custom',
            path: at(0, 'evaluation', 'mode'),
            message: 'the first environment has no evidence before it to reuse: use "rerun"',
          });
        }
        if (environment.endpointName !== undefined && environment.endpointName !== policy.endpointName) {
          context.addIssue({
            code: 'custom',
            path: at(0, 'endpointName'),
            message: `must be the policy's endpointName '${policy.endpointName}' (or left out)`,
          });
        }
        return;
      }
      if (environment.endpointName === undefined) {
        context.addIssue({
          code: 'custom',
          path: at(index, 'endpointName'),
          message: 'is required after the first environment',
        });
      }
      if (environment.gate === undefined) {
        context.addIssue({
          code: 'custom',
          path: at(index, 'gate'),
          message: 'is required after the first environment: {"approval": {...}} or {"bake": "PT24H"}',
        });
      }
    });
  })
  .superRefine((policy, context) => {
    const allowed = metricsForTask(policy.task).join(', ');
    if (policy.primaryMetric !== undefined && !isMetricForTask(policy.task, policy.primaryMetric)) {
      context.addIssue({
        code: 'custom',
        path: ['primaryMetric'],
        message: `'${policy.primaryMetric}' does not apply to a ${policy.task} task (use one of ${allowed})`,
      });
    }
    const seen = new Set<string>();
    policy.guardrails.forEach((guardrail, index) => {
      if (!isMetricForTask(policy.task, guardrail.metric)) {
        context.addIssue({
          code: 'custom',
          path: ['guardrails', index, 'metric'],
          message: `'${guardrail.metric}' does not apply to a ${policy.task} task (use one of ${allowed})`,
        });
      } else if (seen.has(guardrail.metric)) {
        context.addIssue({
          code: 'custom',
          path: ['guardrails', index, 'metric'],
          message: `duplicate guardrail for '${guardrail.metric}'`,
        });
      }
      seen.add(guardrail.metric);
    });
  })
  .superRefine((policy, context) => {
    const analysis = policy.rollout.analysis;
    if (!analysis) return;
    const path = (...rest: (string | number)[]) => ['rollout', 'analysis', ...rest];
    if (policy.task === 'regression' && analysis.metrics?.disagreement) {
      context.addIssue({
        code: 'custom',
        path: path('metrics', 'disagreement'),
        message: 'applies to a classification task: use predictionDifference for regression',
      });
    }
    if (policy.task === 'classification' && analysis.metrics?.predictionDifference) {
      context.addIssue({
        code: 'custom',
        path: path('metrics', 'predictionDifference'),
        message: 'applies to a regression task: use disagreement for classification',
      });
    }
    // Only metrics a person named: the defaults leave out what cannot be measured (see the transform below).
    const replayed =
      analysis.metrics !== undefined &&
      ['latency', 'latencyP95', 'disagreement', 'predictionDifference'].some(
        (name) => analysis.metrics?.[name as keyof typeof analysis.metrics] !== undefined,
      );
    if (replayed && analysis.replaySampleSize > 0 && analysis.replaySampleSize < analysis.minSamples) {
      context.addIssue({
        code: 'custom',
        path: path('replaySampleSize'),
        message: `must be at least minSamples (${analysis.minSamples}), or latency and agreement could never pass`,
      });
    }
    if (replayed && analysis.replaySampleSize > 0 && !policy.evaluation.dataAsset) {
      context.addIssue({
        code: 'custom',
        path: path('replaySampleSize'),
        message: 'needs evaluation.dataAsset: its rows are what is replayed (or set replaySampleSize to 0)',
      });
    }
    // A mirror phase is judged on replayed requests alone: the challenger answers no live request then.
    if (policy.rollout.mirror) {
      const problem = !policy.evaluation.dataAsset
        ? 'needs evaluation.dataAsset when rollout.analysis judges the steps: a mirror phase is judged on replayed rows (the challenger answers no live traffic)'
        : analysis.replaySampleSize < analysis.minSamples
          ? `needs rollout.analysis.replaySampleSize of at least minSamples (${analysis.minSamples}): a mirror phase is judged on replayed rows (the challenger answers no live traffic)`
          : undefined;
      if (problem) context.addIssue({ code: 'custom', path: ['rollout', 'mirror'], message: problem });
    }
  })
  .transform((policy) => {
    const primaryMetric: MetricName = policy.primaryMetric ?? (policy.task === 'regression' ? 'mse' : 'accuracy');
    const rollout = resolveRollout(policy, policy.rollout);
    const environments = policy.environments?.map((environment) => ({
      ...environment,
      rollout: environment.rollout ? resolveRollout(policy, environment.rollout) : undefined,
    }));
    return {
      ...policy,
      rollout,
      environments,
      primaryMetric,
      direction: metricDirection(primaryMetric),
    };
  });

/** A rollout with its analysis' defaults applied for the policy's task and evaluation data. */
function resolveRollout<R extends z.output<typeof rolloutSchema>>(
  policy: { task: Task; evaluation: z.output<typeof evaluationSchema> },
  rollout: R,
) {
  const given = rollout.analysis;
  return { ...rollout, analysis: given ? resolveAnalysis(given, policy) : undefined };
}

export type PolicyInput = z.input<typeof policySchema>;
export type Policy = z.output<typeof policySchema>;
export type EvaluationSettings = Policy['evaluation'];
export type ApprovalSettings = Policy['approval'];
export type RolloutSettings = Policy['rollout'];
export type TestSpec = RolloutSettings['testSpec'];
export type CodeConfiguration = NonNullable<RolloutSettings['codeConfiguration']>;
/** How each rollout step is judged: the policy's `rollout.analysis`, defaults applied. */
export type RolloutAnalysis = ReturnType<typeof resolveAnalysis>;
export type RetrainingSettings = NonNullable<Policy['retraining']>;
export type EnvironmentSettings = NonNullable<Policy['environments']>[number];
export type GateSettings = NonNullable<EnvironmentSettings['gate']>;
export type { MetricName, Task };

/** Policies keyed by model name (a plain object, so it survives JSON between activities). */
export type PolicySet = Record<string, Policy>;

const policyFileSchema = z.strictObject({
  $schema: z.string().optional(),
  policies: z.array(policySchema),
});

export class PolicyError extends Error {
  /** Key path of the first bad field, e.g. `policies[0].rollout.steps[2]`. */
  readonly path: string;
  readonly problem: string;

  constructor(path: string, problem: string) {
    super(`${path || 'policy file'}: ${problem}`);
    this.name = 'PolicyError';
    this.path = path;
    this.problem = problem;
  }
}

/** `policies[0].rollout.steps[2]`-style path. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, key) => {
    if (typeof key === 'number') return `${text}[${key}]`;
    const name = String(key);
    if (/^[A-Za-z_$][\w$]*$/.test(name)) return text ? `${text}.${name}` : name;
    return `${text}[${JSON.stringify(name)}]`;
  }, '');
}

const describeType = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : typeof value;

/** Messages for issues the schema does not word itself. */
const errorMap: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      return `must be ${issue.expected === 'int' ? 'an integer' : issue.expected === 'array' || issue.expected === 'object' ? `an ${issue.expected}` : `a ${issue.expected}`}, got ${describeType(issue.input)}`;
    case 'too_small':
      if (issue.origin === 'array') return `must have at least ${issue.minimum} item(s)`;
      if (issue.origin === 'string') return 'must not be empty';
      return `must be ${issue.inclusive ? '≥' : '>'} ${issue.minimum}`;
    case 'too_big':
      if (issue.origin === 'array') return `must have at most ${issue.maximum} item(s)`;
      return `must be ${issue.inclusive ? '≤' : '<'} ${issue.maximum}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}`;
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `'${key}'`).join(', ')}`;
    default:
      return undefined;
  }
};

/**
 * Validates a policy file (`{ "policies": [...] }`) and returns the policies keyed by model name. Throws a
 * `PolicyError` naming the key path of the first bad field. Two policies may not share a model or an endpoint
 * (the blue/green slots of an endpoint belong to one model).
 */
export function parsePolicies(
  json: unknown,
  options: {
    /**
     * The app's own workspace's ARM id: a policy's first environment must be it, since registrations there (and only
     * there) start promotions (functions/events.ts).
     */
    appWorkspace?: string;
  } = {},
): PolicySet {
  const parsed = policyFileSchema.safeParse(json, { error: errorMap });
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new PolicyError(formatPath(first?.path ?? []), first?.message ?? 'invalid policy file');
  }
  const byModel: PolicySet = {};
  const modelAt = new Map<string, number>();
  const endpointAt = new Map<string, number>();
  parsed.data.policies.forEach((policy, index) => {
    const sameModel = modelAt.get(policy.modelName);
    if (sameModel !== undefined) {
      throw new PolicyError(
        `policies[${index}].modelName`,
        `duplicate policy for model '${policy.modelName}' (also policies[${sameModel}])`,
      );
    }
    const endpoint = policy.endpointName.toLowerCase();
    const sameEndpoint = endpointAt.get(endpoint);
    if (sameEndpoint !== undefined) {
      throw new PolicyError(
        `policies[${index}].endpointName`,
        `endpoint '${policy.endpointName}' is already used by policies[${sameEndpoint}]`,
      );
    }
    modelAt.set(policy.modelName, index);
    endpointAt.set(endpoint, index);
    const first = policy.environments?.[0];
    if (first && options.appWorkspace && !sameWorkspace(first.workspace, options.appWorkspace)) {
      throw new PolicyError(
        `policies[${index}].environments[0].workspace`,
        `must be the app's own workspace ${options.appWorkspace}: versions registered there start promotions`,
      );
    }
    // An online endpoint's name is unique in its region: an environment's may not be another policy's either.
    policy.environments?.forEach((environment, at) => {
      if (at === 0 || !environment.endpointName) return;
      const name = environment.endpointName.toLowerCase();
      const taken = endpointAt.get(name);
      if (taken !== undefined) {
        throw new PolicyError(
          `policies[${index}].environments[${at}].endpointName`,
          `endpoint '${environment.endpointName}' is already used by policies[${taken}]`,
        );
      }
      endpointAt.set(name, index);
    });
    byModel[policy.modelName] = policy;
  });
  return byModel;
}

export function policyFor(policies: PolicySet, modelName: string): Policy | undefined {
  return Object.hasOwn(policies, modelName) ? policies[modelName] : undefined;
}
