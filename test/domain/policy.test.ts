import { describe, expect, it } from 'vitest';
import { comparePairedPredictions } from '../../lib/domain/evaluation';
import {
  DurationError,
  PolicyError,
  durationToMilliseconds,
  ncrontabError,
  parseIsoDuration,
  parsePolicies,
  policyFor,
  type PolicyInput,
} from '../../lib/domain/policy';

const minimalPolicy = (): PolicyInput => ({
  modelName: 'house-prices',
  endpointName: 'house-prices-ep',
  task: 'regression',
  evaluation: { dataAsset: { name: 'houses-eval', version: 4 } },
  rollout: { instanceType: 'Standard_DS3_v2', testSpec: { sampleRows: [{ rooms: 3 }] } },
});

const fullPolicy = (): PolicyInput => ({
  modelName: 'churn',
  endpointName: 'churn-ep',
  task: 'classification',
  primaryMetric: 'auc',
  minImprovement: 0.01,
  guardrails: [{ metric: 'accuracy', margin: 0.02 }],
  evaluation: {
    mode: 'paired',
    dataAsset: { name: 'churn-eval', version: '7' },
    labelColumn: 'churned',
    minSamples: 500,
    bootstrapSamples: 5000,
    seed: 7,
    confidence: 0.9,
    positiveLabel: 'yes',
  },
  approval: { required: true, timeout: 'P2D', onTimeout: 'approve', approvers: ['ml-leads@example.com'] },
  rollout: {
    instanceType: 'Standard_DS3_v2',
    instanceCount: 2,
    steps: [10, 50, 100],
    provisioningDeadline: 1800,
    testSpec: {
      goldenCases: [{ input: { tenure: 3 }, expected: 1, tolerance: 0.1 }],
      latencyBudgetMs: 250,
      responseSchema: { type: 'array' },
    },
  },
  retraining: {
    schedule: '0 30 2 * * MON-FRI',
    cooldown: 'PT12H',
    kOfN: { k: 2, n: 3 },
    trainingDataAsset: { name: 'churn-train' },
    jobSpec: 'jobs/train-churn.yml',
  },
});

/** A minimal policy with one field replaced (by path). */
function withField(path: (string | number)[], value: unknown, base: PolicyInput = minimalPolicy()): unknown {
  const copy = structuredClone(base) as Record<string | number, unknown>;
  let target = copy;
  for (const key of path.slice(0, -1)) {
    target[key] ??= typeof path[path.indexOf(key) + 1] === 'number' ? [] : {};
    target = target[key] as Record<string | number, unknown>;
  }
  const last = path[path.length - 1] as string | number;
  if (value === undefined) delete target[last];
  else target[last] = value;
  return { policies: [copy] };
}

describe('parsePolicies', () => {
  it('fills defaults and derives direction and durations', () => {
    const policies = parsePolicies({ policies: [minimalPolicy()] });
    expect(Object.keys(policies)).toEqual(['house-prices']);
    expect(policies['house-prices']).toEqual({
      modelName: 'house-prices',
      endpointName: 'house-prices-ep',
      task: 'regression',
      primaryMetric: 'mse',
      direction: 'lower-is-better',
      minImprovement: 0,
      guardrails: [],
      evaluation: {
        mode: 'paired',
        dataAsset: { name: 'houses-eval', version: '4' },
        labelColumn: 'label',
        minSamples: 100,
        bootstrapSamples: 2000,
        seed: 20240917,
        confidence: 0.95,
        whenNoChampion: 'win',
      },
      approval: { required: true, timeout: 'PT24H', timeoutMs: 86_400_000, onTimeout: 'reject' },
      rollout: {
        instanceType: 'Standard_DS3_v2',
        instanceCount: 1,
        // Azure's default: one request per instance at a time.
        requestSettings: { maxConcurrentRequestsPerInstance: 1 },
        strategy: 'all-at-once',
        steps: [100],
        bakeMs: 0,
        provisioningDeadline: 'PT1H',
        provisioningDeadlineMs: 3_600_000,
        testSpec: { sampleRows: [{ rooms: 3 }], latencyBudgetMs: 1000 },
      },
    });
  });

  it('keeps every field of a full policy and converts its durations', () => {
    const policy = parsePolicies({ policies: [fullPolicy(), minimalPolicy()] }).churn;
    expect(policy).toMatchObject({
      primaryMetric: 'auc',
      direction: 'higher-is-better',
      evaluation: { dataAsset: { version: '7' }, positiveLabel: 'yes', confidence: 0.9 },
      approval: { timeoutMs: 2 * 86_400_000, onTimeout: 'approve', approvers: ['ml-leads@example.com'] },
      rollout: { steps: [10, 50, 100], provisioningDeadlineMs: 1_800_000, instanceCount: 2 },
      retraining: { cooldownMs: 12 * 3_600_000, kOfN: { k: 2, n: 3 }, trainingDataAsset: { name: 'churn-train' } },
    });
    expect(policy?.rollout.testSpec.goldenCases).toEqual([{ input: { tenure: 3 }, expected: 1, tolerance: 0.1 }]);
  });

  it.each<{ name: string; json: unknown; message: string }>([
    { name: 'not an object', json: [], message: 'policy file: must be an object, got an array' },
    { name: 'no policies key', json: {}, message: 'policies: is required' },
    { name: 'policies not an array', json: { policies: {} }, message: 'policies: must be an array, got an object' },
    {
      name: 'step out of range',
      json: withField(['rollout', 'steps'], [10, 50, 150]),
      message: 'policies[0].rollout.steps[2]: must be between 1 and 100',
    },
    {
      name: 'fractional step',
      json: withField(['rollout', 'steps'], [12.5, 100]),
      message: 'policies[0].rollout.steps[0]: must be a whole percentage',
    },
    {
      name: 'steps not increasing',
      json: withField(['rollout', 'steps'], [10, 50, 50, 100]),
      message: 'policies[0].rollout.steps[2]: must be greater than the previous step (50)',
    },
    {
      name: 'steps not ending at 100',
      json: withField(['rollout', 'steps'], [10, 50]),
      message: 'policies[0].rollout.steps[1]: the last step must be 100',
    },
    {
      name: 'no steps',
      json: withField(['rollout', 'steps'], []),
      message: 'policies[0].rollout.steps: must have at least one step',
    },
    {
      name: 'missing instance type',
      json: withField(['rollout', 'instanceType'], undefined),
      message: 'policies[0].rollout.instanceType: is required',
    },
    {
      name: 'test spec without rows or cases',
      json: withField(['rollout', 'testSpec'], { latencyBudgetMs: 100 }),
      message: 'policies[0].rollout.testSpec: needs sampleRows or goldenCases',
    },
    {
      name: 'golden case without expected output',
      json: withField(['rollout', 'testSpec'], { goldenCases: [{ input: 1 }] }),
      message: 'policies[0].rollout.testSpec.goldenCases[0].expected: is required',
    },
    {
      name: 'negative guardrail margin',
      json: withField(['guardrails'], [{ metric: 'mae', margin: -0.1 }]),
      message: 'policies[0].guardrails[0].margin: must be ≥ 0',
    },
    {
      name: 'guardrail metric of the wrong task',
      json: withField(['guardrails'], [{ metric: 'accuracy', margin: 0.1 }]),
      message:
        "policies[0].guardrails[0].metric: 'accuracy' does not apply to a regression task (use one of mse, mae, rmse)",
    },
    {
      name: 'duplicate guardrail',
      json: withField(
        ['guardrails'],
        [
          { metric: 'mae', margin: 0.1 },
          { metric: 'mae', margin: 0.2 },
        ],
      ),
      message: "policies[0].guardrails[1].metric: duplicate guardrail for 'mae'",
    },
    {
      name: 'unknown metric',
      json: withField(['primaryMetric'], 'r2'),
      message: 'policies[0].primaryMetric: must be one of "mse", "mae", "rmse", "accuracy", "f1", "auc"',
    },
    {
      name: 'primary metric of the wrong task',
      json: withField(['primaryMetric'], 'f1'),
      message: "policies[0].primaryMetric: 'f1' does not apply to a regression task (use one of mse, mae, rmse)",
    },
    {
      name: 'negative minimum improvement',
      json: withField(['minImprovement'], -0.5),
      message: 'policies[0].minImprovement: must be ≥ 0',
    },
    {
      name: 'unknown key (typo)',
      json: withField(['evaluation', 'bootstrapSample'], 100),
      message: "policies[0].evaluation: unknown key 'bootstrapSample'",
    },
    {
      name: 'paired mode without data asset',
      json: withField(['evaluation'], { mode: 'paired' }),
      message: 'policies[0].evaluation.dataAsset: is required when mode is "paired"',
    },
    {
      name: 'confidence of 1',
      json: withField(['evaluation', 'confidence'], 1),
      message: 'policies[0].evaluation.confidence: must be at least 0.5 and below 1',
    },
    {
      name: 'too few bootstrap samples',
      json: withField(['evaluation', 'bootstrapSamples'], 10),
      message: 'policies[0].evaluation.bootstrapSamples: must be between 100 and 100000',
    },
    {
      name: 'calendar duration',
      json: withField(['approval'], { timeout: 'P1M' }),
      message:
        "policies[0].approval.timeout: 'P1M' uses years or months, which have no fixed length: use days (e.g. P30D)",
    },
    {
      name: 'duration of the wrong type',
      json: withField(['approval'], { timeout: true }),
      message: 'policies[0].approval.timeout: must be an ISO-8601 duration (e.g. PT24H) or a number of seconds',
    },
    {
      name: 'reminder not before the expiry',
      json: withField(['approval'], { timeout: 'PT1H', remindBefore: 'PT1H' }),
      message:
        'policies[0].approval.remindBefore: must be shorter than approval.timeout (PT1H): the reminder comes before the request expires',
    },
    {
      name: 'reminder of the wrong type',
      json: withField(['approval'], { remindBefore: 'soon' }),
      message:
        "policies[0].approval.remindBefore: 'soon' is not an ISO-8601 duration (expected e.g. PT24H, P1D, PT30M or PT90S)",
    },
    {
      name: 'wrong onTimeout',
      json: withField(['approval'], { onTimeout: 'ignore' }),
      message: 'policies[0].approval.onTimeout: must be one of "reject", "approve"',
    },
    {
      name: 'k greater than n',
      json: withField(['retraining'], { kOfN: { k: 4, n: 3 }, trainingDataAsset: { name: 't' }, jobSpec: 'job.yml' }),
      message: 'policies[0].retraining.kOfN.k: must be ≤ n (3)',
    },
    {
      name: 'empty approvers of the gate before registration',
      json: withField(['retraining'], {
        trainingDataAsset: { name: 't' },
        jobSpec: 'job.yml',
        approval: { approvers: [] },
      }),
      message: 'policies[0].retraining.approval.approvers: must list at least one approver when given',
    },
    {
      name: 'bad timeout of the gate before registration',
      json: withField(['retraining'], {
        trainingDataAsset: { name: 't' },
        jobSpec: 'job.yml',
        approval: { timeout: 'soon' },
      }),
      message:
        "policies[0].retraining.approval.timeout: 'soon' is not an ISO-8601 duration (expected e.g. PT24H, P1D, PT30M or PT90S)",
    },
    {
      name: 'five-field cron',
      json: withField(['retraining'], { schedule: '0 2 * * *', trainingDataAsset: { name: 't' }, jobSpec: 'job.yml' }),
      message: 'policies[0].retraining.schedule: must have 6 fields (second minute hour day month day-of-week), got 5',
    },
    {
      name: 'bad endpoint name',
      json: withField(['endpointName'], '1-endpoint'),
      message:
        'policies[0].endpointName: must be 3–32 characters: a letter first, then letters, digits or "-", not ending with "-"',
    },
    {
      name: 'wrong task',
      json: withField(['task'], 'ranking'),
      message: 'policies[0].task: must be one of "regression", "classification"',
    },
    {
      name: 'string where a number belongs',
      json: withField(['rollout', 'instanceCount'], '2'),
      message: 'policies[0].rollout.instanceCount: must be a number, got string',
    },
    {
      name: 'duplicate model',
      json: { policies: [minimalPolicy(), { ...minimalPolicy(), endpointName: 'other-ep' }] },
      message: "policies[1].modelName: duplicate policy for model 'house-prices' (also policies[0])",
    },
    {
      name: 'a scoring script without an environment',
      json: withField(['rollout', 'codeConfiguration'], { codeId: 'azureml:score:1', scoringScript: 'score.py' }),
      message:
        'policies[0].rollout.environment: is required with codeConfiguration: the scoring script runs in this environment',
    },
    {
      name: 'an environment without a scoring script',
      json: withField(['rollout', 'environment'], 'azureml:score-env:1'),
      message:
        'policies[0].rollout.codeConfiguration: is required with environment: a custom model is deployed with its scoring script',
    },
    {
      name: 'a scoring script without its path',
      json: withField(['rollout', 'codeConfiguration'], { codeId: 'azureml:score:1' }),
      message: 'policies[0].rollout.codeConfiguration.scoringScript: is required',
    },
    {
      name: 'two models on one endpoint',
      json: { policies: [minimalPolicy(), { ...minimalPolicy(), modelName: 'other' }] },
      message: "policies[1].endpointName: endpoint 'house-prices-ep' is already used by policies[0]",
    },
    {
      name: 'an error-rate allowance above 1',
      json: withField(['rollout', 'analysis'], { metrics: { errorRate: { maxIncrease: 1.5 } } }),
      message: 'policies[0].rollout.analysis.metrics.errorRate.maxIncrease: must be between 0 and 1',
    },
    {
      name: 'an analysis that names no metric',
      json: withField(['rollout', 'analysis'], { metrics: {} }),
      message:
        'policies[0].rollout.analysis.metrics: must name at least one metric (errorRate, latency, latencyP95, disagreement, predictionDifference)',
    },
    {
      name: 'an unknown analysis metric',
      json: withField(['rollout', 'analysis'], { metrics: { throughput: { min: 1 } } }),
      message: "policies[0].rollout.analysis.metrics: unknown key 'throughput'",
    },
    {
      name: 'disagreement for a regression model',
      json: withField(['rollout', 'analysis'], { metrics: { disagreement: { max: 0.1 } } }),
      message:
        'policies[0].rollout.analysis.metrics.disagreement: applies to a classification task: use predictionDifference for regression',
    },
    {
      name: 'an unknown onInconclusive',
      json: withField(['rollout', 'analysis'], { onInconclusive: 'wait' }),
      message: 'policies[0].rollout.analysis.onInconclusive: must be one of "pause", "abort"',
    },
    {
      name: 'a replay smaller than the samples a metric needs',
      json: withField(['rollout', 'analysis'], {
        replaySampleSize: 20,
        minSamples: 50,
        metrics: { latency: { maxIncreaseMs: 10 } },
      }),
      message:
        'policies[0].rollout.analysis.replaySampleSize: must be at least minSamples (50), or latency and agreement could never pass',
    },
    {
      name: 'a replay over 1000 rows',
      json: withField(['rollout', 'analysis', 'replaySampleSize'], 5000),
      message: 'policies[0].rollout.analysis.replaySampleSize: must be between 0 and 1000',
    },
    {
      name: 'a replayed metric without evaluation data',
      json: withField(
        ['rollout', 'analysis'],
        { metrics: { latency: { maxIncreaseMs: 10 } } },
        {
          ...minimalPolicy(),
          evaluation: { mode: 'recorded' },
        },
      ),
      message:
        'policies[0].rollout.analysis.replaySampleSize: needs evaluation.dataAsset: its rows are what is replayed (or set replaySampleSize to 0)',
    },
  ])('rejects $name with the key path', ({ json, message }) => {
    let thrown: unknown;
    try {
      parsePolicies(json);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(PolicyError);
    expect((thrown as PolicyError).message).toBe(message);
  });

  it("keeps a custom model's scoring script and environment", () => {
    const code = { codeId: 'azureml:score:1', scoringScript: 'score.py' };
    const json = withField(['rollout', 'environment'], 'azureml:score-env:1', {
      ...minimalPolicy(),
      rollout: { ...minimalPolicy().rollout, codeConfiguration: code },
    });
    expect(parsePolicies(json)['house-prices']?.rollout).toMatchObject({
      codeConfiguration: code,
      environment: 'azureml:score-env:1',
    });
  });

  it('judges rollout steps only with rollout.analysis; {} takes the defaults', () => {
    expect(parsePolicies({ policies: [minimalPolicy()] })['house-prices']!.rollout.analysis).toBeUndefined();
    expect(parsePolicies(withField(['rollout', 'analysis'], {}))['house-prices']!.rollout.analysis).toEqual({
      metrics: {
        errorRate: { maxIncrease: 0.02 },
        latency: { maxIncreaseMs: 100 },
        latencyP95: { maxIncreaseMs: 250 },
      },
      minRequests: 100,
      minSamples: 50,
      confidence: 0.95,
      replaySampleSize: 100,
      bootstrapSamples: 2000,
      seed: 20240917,
      onInconclusive: 'pause',
      task: 'regression',
      replay: { dataAsset: { name: 'houses-eval', version: '4' }, labelColumn: 'label' },
    });
  });

  it('judges a classification rollout on disagreement too, and judges only the error rate without replayed rows', () => {
    const churn = parsePolicies({
      policies: [{ ...fullPolicy(), rollout: { ...fullPolicy().rollout, analysis: {} } }],
    }).churn!;
    expect(Object.keys(churn.rollout.analysis!.metrics)).toEqual([
      'errorRate',
      'latency',
      'latencyP95',
      'disagreement',
    ]);
    expect(churn.rollout.analysis).toMatchObject({
      task: 'classification',
      replay: { dataAsset: { name: 'churn-eval', version: '7' }, labelColumn: 'churned' },
    });
    const recorded = parsePolicies(
      withField(
        ['evaluation'],
        { mode: 'recorded' },
        { ...minimalPolicy(), rollout: { ...minimalPolicy().rollout, analysis: {} } },
      ),
    )['house-prices']!;
    expect(recorded.rollout.analysis).toMatchObject({ metrics: { errorRate: { maxIncrease: 0.02 } }, replay: null });
    expect(Object.keys(recorded.rollout.analysis!.metrics)).toEqual(['errorRate']);
    const noReplay = parsePolicies(
      withField(['rollout', 'analysis'], { replaySampleSize: 0, onInconclusive: 'abort' }),
    );
    expect(noReplay['house-prices']!.rollout.analysis).toMatchObject({
      metrics: { errorRate: { maxIncrease: 0.02 } },
      onInconclusive: 'abort',
    });
  });

  it('accepts a recorded-mode policy without a data asset', () => {
    const json = withField(['evaluation'], { mode: 'recorded' });
    expect(parsePolicies(json)['house-prices']?.evaluation.mode).toBe('recorded');
  });

  it('gives policies that the evaluation accepts as they are', () => {
    const policy = policyFor(parsePolicies({ policies: [minimalPolicy()] }), 'house-prices')!;
    const labels = Array.from({ length: 100 }, (_, i) => i);
    const evidence = comparePairedPredictions(
      { labels, champion: { predictions: labels.map((y) => y + 1) }, challenger: { predictions: labels } },
      policy,
    );
    expect(evidence).toMatchObject({ modelName: 'house-prices', decision: 'win', seed: 20240917 });
  });
});

describe('policyFor', () => {
  const policies = parsePolicies({ policies: [minimalPolicy()] });
  it.each([
    { modelName: 'house-prices', found: true },
    { modelName: 'unknown', found: false },
    { modelName: 'constructor', found: false },
    { modelName: '__proto__', found: false },
  ])('$modelName → found: $found', ({ modelName, found }) => {
    expect(policyFor(policies, modelName) !== undefined).toBe(found);
  });
});

describe('durations', () => {
  it.each([
    { text: 'PT24H', ms: 86_400_000 },
    { text: 'P1D', ms: 86_400_000 },
    { text: 'P1DT12H', ms: 129_600_000 },
    { text: 'PT30M', ms: 1_800_000 },
    { text: 'PT90S', ms: 90_000 },
    { text: 'PT0.5S', ms: 500 },
    { text: 'PT1,5H', ms: 5_400_000 },
    { text: 'P2W', ms: 1_209_600_000 },
    { text: 'pt1h', ms: 3_600_000 },
    { text: 'PT0S', ms: 0 },
  ])('$text = $ms ms', ({ text, ms }) => {
    expect(parseIsoDuration(text)).toBe(ms);
  });

  it.each([
    { text: '', error: /is not an ISO-8601 duration/ },
    { text: 'P', error: /is not an ISO-8601 duration/ },
    { text: 'PT', error: /is not an ISO-8601 duration/ },
    { text: '24H', error: /is not an ISO-8601 duration/ },
    { text: 'P1H', error: /is not an ISO-8601 duration/ },
    { text: 'PT-5M', error: /is not an ISO-8601 duration/ },
    { text: 'P1Y', error: /years or months/ },
    { text: 'P1M', error: /years or months/ },
  ])('rejects "$text"', ({ text, error }) => {
    expect(() => parseIsoDuration(text)).toThrow(DurationError);
    expect(() => parseIsoDuration(text)).toThrow(error);
  });

  it.each([
    { value: 3600, ms: 3_600_000 },
    { value: 0.25, ms: 250 },
    { value: 'PT2M', ms: 120_000 },
  ])('durationToMilliseconds($value) = $ms', ({ value, ms }) => {
    expect(durationToMilliseconds(value)).toBe(ms);
  });

  it.each([-1, Number.NaN])('durationToMilliseconds rejects %d seconds', (value) => {
    expect(() => durationToMilliseconds(value)).toThrow(DurationError);
  });
});

describe('ncrontabError', () => {
  it.each(['0 */5 * * * *', '0 30 9 * * 1-5', '0 0 0 1 JAN,JUL SUN', '30 15 2 */2 * mon-fri', '0 0 */4 1-15 3 *'])(
    'accepts "%s"',
    (expression) => {
      expect(ncrontabError(expression)).toBeUndefined();
    },
  );

  it.each([
    { expression: '0 2 * * *', error: /6 fields.*got 5/ },
    { expression: '', error: /6 fields.*got 0/ },
    { expression: '60 * * * * *', error: /second field '60'.*between 0 and 59/ },
    { expression: '0 0 24 * * *', error: /hour field/ },
    { expression: '0 0 0 0 * *', error: /day field '0'/ },
    { expression: '0 0 0 * 13 *', error: /month field/ },
    { expression: '0 0 0 * * 7', error: /day-of-week field/ },
    { expression: '0 */0 * * * *', error: /step must be a positive number/ },
    { expression: '0 10-5 * * * *', error: /range is reversed/ },
    { expression: '0 x * * * *', error: /minute field 'x' is invalid/ },
  ])('rejects "$expression"', ({ expression, error }) => {
    expect(ncrontabError(expression)).toMatch(error);
  });
});

describe('release freeze windows', () => {
  const freezes = (value: unknown) => parsePolicies(withField(['freezes'], value))['house-prices']!.freezes;

  it('takes windows with zoned times and a reason; none by default', () => {
    expect(parsePolicies({ policies: [minimalPolicy()] })['house-prices']!.freezes).toBeUndefined();
    const window = { from: '2026-11-27T00:00:00Z', until: '2026-11-30T06:00:00+01:00', reason: 'Black Friday' };
    expect(freezes([window])).toEqual([window]);
  });

  it.each([
    [
      [{ from: '2026-11-27', until: '2026-11-30T00:00:00Z', reason: 'r' }],
      'policies[0].freezes[0].from: must be an ISO 8601 time with a zone',
    ],
    [
      [{ from: '2026-11-27T00:00:00', until: '2026-11-30T00:00:00Z', reason: 'r' }],
      'policies[0].freezes[0].from: must be an ISO 8601 time with a zone',
    ],
    [
      [{ from: '2026-11-27T00:00:00Z', until: '2026-11-26T00:00:00Z', reason: 'r' }],
      'policies[0].freezes[0].until: must be after from (2026-11-27T00:00:00Z)',
    ],
    [
      [{ from: '2026-11-27T00:00:00Z', until: '2026-11-28T00:00:00Z', reason: ' ' }],
      'policies[0].freezes[0].reason: must not be empty',
    ],
    [
      [{ from: '2026-13-27T00:00:00Z', until: '2026-11-28T00:00:00Z', reason: 'r' }],
      'policies[0].freezes[0].from: is not a real time',
    ],
    [[{ from: '2026-11-27T00:00:00Z', until: '2026-11-28T00:00:00Z', reason: 'r', by: 'x' }], 'policies[0].freezes[0]'],
  ])('refuses a bad window, naming its path (%j)', (value, message) => {
    expect(() => freezes(value)).toThrow(PolicyError);
    expect(() => freezes(value)).toThrow(message);
  });
});

describe('rollout strategies', () => {
  const rollout = (over: Record<string, unknown>) => {
    const policy = minimalPolicy();
    policy.rollout = { ...policy.rollout, ...over } as PolicyInput['rollout'];
    return parsePolicies({ policies: [policy] })['house-prices']!.rollout;
  };

  it('keeps what steps meant before strategies: the percentages given, no bake, no mirror', () => {
    expect(rollout({ steps: [10, 50, 100] })).toMatchObject({ strategy: 'canary', steps: [10, 50, 100], bakeMs: 0 });
    expect(rollout({})).toMatchObject({ strategy: 'all-at-once', steps: [100], bakeMs: 0 });
    expect(rollout({}).mirror).toBeUndefined();
  });

  it('turns each strategy into its steps, with a bake, mirror phase, maximum duration and rollback window', () => {
    expect(rollout({ strategy: 'all-at-once' }).steps).toEqual([100]);
    expect(rollout({ strategy: 'canary', steps: [10, 100], bake: 'PT1H' })).toMatchObject({
      steps: [10, 100],
      bakeMs: 3_600_000,
    });
    expect(rollout({ strategy: 'linear', increment: 20 }).steps).toEqual([20, 40, 60, 80, 100]);
    expect(rollout({ strategy: 'linear', increment: 30 }).steps).toEqual([30, 60, 90, 100]);
    expect(
      rollout({
        strategy: 'canary',
        steps: [10, 100],
        bake: 600,
        mirror: { percent: 20, duration: 'PT5M' },
        maxDuration: 'PT1H',
        rollbackWindow: 'P1D',
      }),
    ).toMatchObject({
      bakeMs: 600_000,
      mirror: { percent: 20, durationMs: 300_000 },
      maxDurationMs: 3_600_000,
      rollbackWindowMs: 86_400_000,
    });
  });

  it.each<{ name: string; over: Record<string, unknown>; message: string }>([
    {
      name: 'unknown strategy',
      over: { strategy: 'blue-green' },
      message: 'policies[0].rollout.strategy: must be one of "all-at-once", "canary", "linear"',
    },
    {
      name: 'linear without increment',
      over: { strategy: 'linear' },
      message: 'policies[0].rollout.increment: is required with strategy "linear"',
    },
    {
      name: 'linear with steps',
      over: { strategy: 'linear', increment: 10, steps: [10, 100] },
      message: 'policies[0].rollout.steps: is not for strategy "linear" (its steps follow from increment)',
    },
    {
      name: 'increment without linear',
      over: { increment: 10 },
      message: 'policies[0].rollout.increment: is only for strategy "linear"',
    },
    {
      name: 'increment of 100',
      over: { strategy: 'linear', increment: 100 },
      message: 'policies[0].rollout.increment: must be between 1 and 99',
    },
    {
      name: 'canary of one step',
      over: { strategy: 'canary', steps: [100] },
      message: 'policies[0].rollout.steps: needs at least two steps with strategy "canary" (e.g. [10, 100])',
    },
    {
      name: 'all at once in steps',
      over: { strategy: 'all-at-once', steps: [50, 100] },
      message: 'policies[0].rollout.steps: must be absent or [100] with strategy "all-at-once"',
    },
    {
      name: 'canary not ending at 100',
      over: { strategy: 'canary', steps: [10, 50] },
      message: 'policies[0].rollout.steps[1]: the last step must be 100',
    },
    { name: 'zero bake', over: { bake: 'PT0S' }, message: 'policies[0].rollout.bake: must be longer than 0' },
    {
      name: 'mirror over 50 %',
      over: { mirror: { percent: 60, duration: 'PT1M' } },
      message: 'policies[0].rollout.mirror.percent: must be between 1 and 50 (Azure ML mirrors at most 50 %)',
    },
    {
      name: 'mirror without duration',
      over: { mirror: { percent: 10 } },
      message: 'policies[0].rollout.mirror.duration: must be an ISO-8601 duration (e.g. PT24H) or a number of seconds',
    },
    {
      name: 'maximum shorter than its bakes',
      over: { steps: [10, 50, 100], bake: 'PT1H', maxDuration: 'PT90M' },
      message: 'policies[0].rollout.maxDuration: is shorter than the mirror phase and bakes it allows for (7200 s)',
    },
    {
      name: 'a judged mirror phase with fewer replayed rows than minSamples',
      over: { mirror: { percent: 10, duration: 'PT1M' }, analysis: { replaySampleSize: 0 } },
      message:
        'policies[0].rollout.mirror: needs rollout.analysis.replaySampleSize of at least minSamples (50): a mirror phase is judged on replayed rows (the challenger answers no live traffic)',
    },
  ])('refuses $name, naming the path', ({ over, message }) => {
    expect(() => rollout(over)).toThrow(PolicyError);
    expect(() => rollout(over)).toThrow(message);
  });

  it('judges a mirror phase only on replayed rows: refused without evaluation data, taken with it or unjudged', () => {
    const mirrored = { ...minimalPolicy().rollout, mirror: { percent: 20, duration: 'PT5M' } };
    const judged = { ...mirrored, analysis: {} };
    expect(() =>
      parsePolicies(withField(['evaluation'], { mode: 'recorded' }, { ...minimalPolicy(), rollout: judged })),
    ).toThrow(
      'policies[0].rollout.mirror: needs evaluation.dataAsset when rollout.analysis judges the steps: a mirror phase is judged on replayed rows (the challenger answers no live traffic)',
    );
    expect(rollout(judged).mirror).toMatchObject({ percent: 20, durationMs: 300_000 });
    expect(
      parsePolicies(withField(['evaluation'], { mode: 'recorded' }, { ...minimalPolicy(), rollout: mirrored }))[
        'house-prices'
      ]!.rollout.mirror,
    ).toMatchObject({ percent: 20, durationMs: 300_000 });
  });
});
