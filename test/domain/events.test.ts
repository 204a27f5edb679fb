import { describe, expect, it } from 'vitest';
import {
  AmlEventType,
  DURABLE_INSTANCE_ID_MAX_LENGTH,
  EventValidationError,
  durableInstanceId,
  fnv1a64,
  foreignRegistration,
  parseEvent,
  parseEventGridDelivery,
  promotionInstanceId,
  retrainingInstanceId,
  type EventCommand,
} from '../../lib/domain/events';

const WORKSPACE =
  '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw';
const TIME = '2017-06-26T18:41:00.9584103Z';
const BREACH_MESSAGE =
  "The signal 'credit_monitor_data_drift' has failed due to one or more features violating metric thresholds.\n" +
  'The feature names and their corresponding computed metric values violating the threshold are \n[...]\n';

/** Event Grid schema envelope, as in the Azure ML event reference. */
function eg(eventType: string, data: unknown, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    topic: WORKSPACE,
    subject: 'models/sklearn_regression_model:20',
    eventType: `Microsoft.MachineLearningServices.${eventType}`,
    eventTime: TIME,
    id: '831e1650-001e-001b-66ab-eeb76e069631',
    data,
    dataVersion: '',
    metadataVersion: '1',
    ...overrides,
  };
}

/** CloudEvents 1.0 envelope. */
function ce(type: string, data: unknown, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    source: WORKSPACE,
    subject: 'models/sklearn_regression_model:20',
    type: `Microsoft.MachineLearningServices.${type}`,
    time: TIME,
    id: '831e1650-001e-001b-66ab-eeb76e069631',
    data,
    specversion: '1.0',
    ...overrides,
  };
}

const modelRegisteredPascal = {
  ModelName: 'sklearn_regression_model',
  ModelVersion: 20,
  ModelTags: { area: 'diabetes', type: 'regression' },
  ModelProperties: { type: 'test' },
};
const modelRegisteredCamel = {
  modelName: 'sklearn_regression_model',
  modelVersion: '20',
  modelTags: { area: 'diabetes', type: 'regression' },
  modelProperties: { type: 'test' },
};
const datasetDrift = {
  DataDriftId: '01d29aa4-e6a4-470a-9ef3-66660d21f8ef',
  DataDriftName: 'myDriftMonitor',
  RunId: '01d29aa4-e6a4-470a-9ef3-66660d21f8ef_1571590300380',
  BaseDatasetId: '3c56d136-0f64-4657-a0e8-5162089a88a3',
  TargetDatasetId: 'd7e74d2e-c972-4266-b5fb-6c9c182d2a74',
  DriftCoefficient: 0.83503490684792081,
  StartTime: '2019-07-04T00:00:00+00:00',
  EndTime: '2019-07-05T00:00:00+00:00',
};
function runData(status: string, tags: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return {
    ExperimentId: '0fa9dfaa-cba3-4fa7-b590-23e48548f5c1',
    ExperimentName: 'credit-monitor',
    RunId: 'run-42',
    RunType: null,
    RunTags: tags,
    RunProperties: { runTemplate: 'pipeline' },
    RunStatus: status,
    ...extra,
  };
}
const runSubject = { subject: 'experiments/0fa9dfaa-cba3-4fa7-b590-23e48548f5c1/runs/run-42' };

describe('parseEvent: ModelRegistered', () => {
  const expected = {
    kind: 'model-registered',
    eventId: '831e1650-001e-001b-66ab-eeb76e069631',
    modelName: 'sklearn_regression_model',
    modelVersion: '20',
    tags: { area: 'diabetes', type: 'regression' },
    properties: { type: 'test' },
    subject: 'models/sklearn_regression_model:20',
    eventTime: TIME,
    source: WORKSPACE,
  };
  it.each([
    ['Event Grid schema, PascalCase data (as Azure ML sends)', eg('ModelRegistered', modelRegisteredPascal)],
    ['Event Grid schema, camelCase data (SDK typings)', eg('ModelRegistered', modelRegisteredCamel)],
    ['CloudEvents 1.0, PascalCase data', ce('ModelRegistered', modelRegisteredPascal)],
    ['CloudEvents 1.0, camelCase data', ce('ModelRegistered', modelRegisteredCamel)],
  ])('%s', (_name, event) => {
    expect(parseEvent(event)).toEqual(expected);
  });

  it.each([
    ['missing tags/properties become empty maps', { ModelName: 'm', ModelVersion: 3 }, { tags: {}, properties: {} }],
    ['null tags become an empty map', { ModelName: 'm', ModelVersion: 3, ModelTags: null }, { tags: {} }],
    [
      'non-string tag values are stringified',
      { ModelName: 'm', ModelVersion: 3, ModelTags: { n: 1, b: true, z: null } },
      { tags: { n: '1', b: 'true', z: '' } },
    ],
    ['a string version is kept as is', { ModelName: 'm', ModelVersion: '2024.01.1' }, { modelVersion: '2024.01.1' }],
  ])('%s', (_name, data, fields) => {
    expect(parseEvent(eg('ModelRegistered', data))).toMatchObject(fields);
  });
});

describe('foreignRegistration: which registrations start promotions', () => {
  const registered = (overrides: Record<string, unknown> = {}) =>
    parseEvent(eg('ModelRegistered', modelRegisteredPascal, overrides)) as Extract<
      EventCommand,
      { kind: 'model-registered' }
    >;
  it("acts on the app's own workspace, whatever the case of the ARM id", () => {
    expect(foreignRegistration(registered(), WORKSPACE)).toBeUndefined();
    expect(foreignRegistration(registered({ topic: WORKSPACE.toLowerCase() }), WORKSPACE)).toBeUndefined();
    const cloud = parseEvent(ce('ModelRegistered', modelRegisteredPascal)) as Extract<
      EventCommand,
      { kind: 'model-registered' }
    >;
    expect(foreignRegistration(cloud, WORKSPACE)).toBeUndefined();
  });
  it('ignores another workspace (a later environment, where Champion registers its copy), saying which', () => {
    const production = WORKSPACE.replace(/mlw$/, 'mlw-prod');
    expect(foreignRegistration(registered({ topic: production }), WORKSPACE)).toBe(
      `registered in ${production}, not in the app's own workspace ${WORKSPACE}`,
    );
  });
  it('ignores an event that names no workspace', () => {
    const { topic: _none, ...withoutTopic } = eg('ModelRegistered', modelRegisteredPascal);
    const command = parseEvent(withoutTopic) as Extract<EventCommand, { kind: 'model-registered' }>;
    expect(foreignRegistration(command, WORKSPACE)).toMatch(/names no topic/);
  });
});

describe('parseEvent: drift', () => {
  it('DatasetDriftDetected (v1 dataset monitor) becomes a v1 breach', () => {
    expect(parseEvent(eg('DatasetDriftDetected', datasetDrift, { subject: 'datadrifts/x/runs/y' }))).toEqual({
      kind: 'drift',
      generation: 'v1',
      signal: 'breach',
      eventId: '831e1650-001e-001b-66ab-eeb76e069631',
      subject: 'datadrifts/x/runs/y',
      eventTime: TIME,
      source: WORKSPACE,
      observationId: datasetDrift.RunId,
      monitorName: 'myDriftMonitor',
      monitorId: datasetDrift.DataDriftId,
      runId: datasetDrift.RunId,
      driftCoefficient: datasetDrift.DriftCoefficient,
      baseDatasetId: datasetDrift.BaseDatasetId,
      targetDatasetId: datasetDrift.TargetDatasetId,
      window: { start: '2019-07-04T00:00:00+00:00', end: '2019-07-05T00:00:00+00:00' },
    });
  });

  it.each([
    ['a model named in the subject', { subject: 'models/churn:3/datadrifts/x' }, {}, 'churn'],
    ['a ModelName in the data', {}, { ModelName: 'fraud' }, 'fraud'],
    ['neither', { subject: 'datadrifts/x/runs/y' }, {}, undefined],
  ])('v1 modelName from %s', (_name, envelope, data, modelName) => {
    const command = parseEvent(eg('DatasetDriftDetected', { ...datasetDrift, ...data }, envelope));
    expect(command).toMatchObject({ kind: 'drift', generation: 'v1' });
    expect((command as { modelName?: string }).modelName).toBe(modelName);
  });

  it('v1 result id is the observation when there is no run id', () => {
    const { RunId: _runId, ...data } = datasetDrift;
    const command = parseEvent(ce('DatasetDriftDetected', { ...data, DataSetDriftResultId: 'result-7' }));
    expect(command).toMatchObject({ observationId: 'result-7', resultId: 'result-7' });
  });

  type Row = [string, string, Record<string, unknown>, Partial<Record<string, unknown>>];
  const rows: Row[] = [
    [
      'breach: documented tag carrying the failure message, run Failed',
      'Failed',
      { azureml_modelmonitor_threshold_breached: BREACH_MESSAGE },
      {
        kind: 'drift',
        generation: 'v2',
        signal: 'breach',
        runStatus: 'Failed',
        signalNames: ['credit_monitor_data_drift'],
        message: BREACH_MESSAGE,
      },
    ],
    [
      'breach: lowercase status as in the reference sample',
      'failed',
      { azureml_modelmonitor_threshold_breached: BREACH_MESSAGE },
      { signal: 'breach', runStatus: 'Failed' },
    ],
    [
      'breach: tag already present while the run is still finalizing',
      'Finalizing',
      { azureml_modelmonitor_threshold_breached: BREACH_MESSAGE },
      { signal: 'breach', runStatus: 'Finalizing' },
    ],
    [
      'breach: per-signal tag on the root run',
      'Failed',
      { 'azureml.modelmonitor.threshold.breached.fraud_prediction_drift': 'violated' },
      { signal: 'breach', signalNames: ['fraud_prediction_drift'], message: 'violated' },
    ],
    ['breach: boolean true', 'Failed', { azureml_modelmonitor_threshold_breached: true }, { signal: 'breach' }],
    [
      'recovery: breach tag cleared to ""',
      'Completed',
      { azureml_modelmonitor_threshold_breached: '' },
      { kind: 'drift', generation: 'v2', signal: 'recovery', signalNames: [] },
    ],
    [
      'recovery: breach tag "false"',
      'Completed',
      { azureml_modelmonitor_threshold_breached: 'false' },
      { signal: 'recovery' },
    ],
    [
      'recovery: breach tag false',
      'Completed',
      { azureml_modelmonitor_threshold_breached: false },
      { signal: 'recovery' },
    ],
    [
      'recovery: tag absent on a run marked as a monitor run',
      'Completed',
      { 'azureml.modelmonitor.error': '' },
      { signal: 'recovery' },
    ],
    [
      'not a signal: monitor run failed for another reason',
      'Failed',
      { azureml_modelmonitor_threshold_breached: '' },
      { kind: 'run-status', status: 'Failed' },
    ],
    [
      'not a signal: monitor run still running',
      'Running',
      { azureml_modelmonitor_threshold_breached: 'false' },
      { kind: 'run-status', status: 'Running' },
    ],
    [
      'not a signal: an ordinary training run completing',
      'Completed',
      { mlflow: 'x' },
      { kind: 'run-status', eventType: 'RunStatusChanged', status: 'Completed', tags: { mlflow: 'x' } },
    ],
  ];
  it.each(rows)('RunStatusChanged %s', (_name, status, tags, expected) => {
    expect(parseEvent(eg('RunStatusChanged', runData(status, tags), runSubject))).toMatchObject(expected);
  });

  it('a recovery without marker tags is recognised through the configured monitor experiments', () => {
    const event = eg('RunStatusChanged', runData('Completed'), runSubject);
    expect(parseEvent(event)).toMatchObject({ kind: 'run-status' });
    expect(parseEvent(event, { monitorExperimentNames: ['credit-monitor'] })).toMatchObject({
      kind: 'drift',
      signal: 'recovery',
      observationId: 'run-42',
    });
  });

  it('v2 modelName comes from a model tag', () => {
    const tags = { azureml_modelmonitor_threshold_breached: BREACH_MESSAGE, 'champion.model': 'credit' };
    expect(parseEvent(ce('RunStatusChanged', runData('Failed', tags), runSubject))).toMatchObject({
      modelName: 'credit',
      observationId: 'run-42',
      tags,
    });
  });

  it('camelCase run data (SDK typings) parses the same', () => {
    const data = {
      experimentId: 'e',
      experimentName: 'credit-monitor',
      runId: 'run-42',
      runType: 'azureml.PipelineRun',
      runTags: { azureml_modelmonitor_threshold_breached: BREACH_MESSAGE },
      runProperties: {},
      runStatus: 'Failed',
    };
    expect(parseEvent(eg('RunStatusChanged', data, runSubject))).toMatchObject({ signal: 'breach', runId: 'run-42' });
  });
});

describe('parseEvent: run status and ignored events', () => {
  it('RunCompleted is a run-status command with status Completed', () => {
    const { RunStatus: _s, ...data } = runData('Completed');
    expect(parseEvent(eg('RunCompleted', { ...data, RunType: 'azureml.scriptrun' }, runSubject))).toEqual({
      kind: 'run-status',
      eventType: 'RunCompleted',
      eventId: '831e1650-001e-001b-66ab-eeb76e069631',
      subject: runSubject.subject,
      eventTime: TIME,
      source: WORKSPACE,
      runId: 'run-42',
      status: 'Completed',
      experimentName: 'credit-monitor',
      experimentId: '0fa9dfaa-cba3-4fa7-b590-23e48548f5c1',
      runType: 'azureml.scriptrun',
      tags: {},
      properties: { runTemplate: 'pipeline' },
    });
  });

  it.each([
    ['ModelDeployed', eg('ModelDeployed', { ServiceName: 's' }), /informational/],
    ['another provider', eg('x', {}, { eventType: 'Microsoft.Storage.BlobCreated' }), /unsupported event type/],
    [
      'subscription validation',
      eg('x', { validationCode: 'c' }, { eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent' }),
      /Functions host/,
    ],
    ['unknown CloudEvent type', ce('x', undefined, { type: 'com.example.thing', subject: undefined }), /unsupported/],
  ])('%s is ignored', (_name, event, reason) => {
    const command = parseEvent(event);
    expect(command.kind).toBe('ignored');
    expect((command as Extract<EventCommand, { kind: 'ignored' }>).reason).toMatch(reason);
  });

  it('event type matching ignores case', () => {
    const event = eg('ModelRegistered', modelRegisteredPascal, {
      eventType: AmlEventType.ModelRegistered.toLowerCase(),
    });
    expect(parseEvent(event).kind).toBe('model-registered');
  });
});

describe('parseEvent: validation errors name the field', () => {
  const bad: [string, unknown, string][] = [
    ['not an object', 'hello', 'expected an event object'],
    ['neither envelope', { id: 'x' }, 'expected an Event Grid event (eventType) or a CloudEvent (specversion)'],
    ['EG: missing id', { ...eg('ModelRegistered', modelRegisteredPascal), id: undefined }, 'id: required'],
    ['EG: empty id', eg('ModelRegistered', modelRegisteredPascal, { id: ' ' }), 'id: must not be empty'],
    [
      'EG: bad eventTime',
      eg('ModelRegistered', modelRegisteredPascal, { eventTime: 'yesterday' }),
      'eventTime: expected an RFC 3339 timestamp with a time zone',
    ],
    [
      'EG: eventTime without a zone',
      eg('ModelRegistered', modelRegisteredPascal, { eventTime: '2019-07-04T00:00:00' }),
      'eventTime: expected an RFC 3339 timestamp with a time zone',
    ],
    [
      'CE: wrong specversion',
      ce('ModelRegistered', modelRegisteredPascal, { specversion: '0.3' }),
      'specversion: expected "1.0"',
    ],
    ['CE: missing source', ce('ModelRegistered', modelRegisteredPascal, { source: undefined }), 'source: required'],
    ['CE: AML event without time', ce('ModelRegistered', modelRegisteredPascal, { time: undefined }), 'time: required'],
    [
      'CE: binary data',
      ce('ModelRegistered', undefined, { data_base64: 'AAAA' }),
      'data_base64: binary event data is not supported',
    ],
    ['data missing', eg('ModelRegistered', undefined), 'data: required'],
    ['data not an object', eg('ModelRegistered', [1]), 'data: expected an object'],
    [
      'ModelVersion zero',
      eg('ModelRegistered', { ...modelRegisteredPascal, ModelVersion: 0 }),
      'data.ModelVersion: expected a positive integer',
    ],
    [
      'ModelVersion fractional',
      eg('ModelRegistered', { ...modelRegisteredPascal, ModelVersion: 1.5 }),
      'data.ModelVersion: expected a positive integer',
    ],
    [
      'ModelVersion null',
      eg('ModelRegistered', { ...modelRegisteredPascal, ModelVersion: null }),
      'data.ModelVersion: expected a positive integer',
    ],
    [
      'modelVersion "0" as a string',
      eg('ModelRegistered', { ...modelRegisteredCamel, modelVersion: '0' }),
      'data.modelVersion: expected a positive integer',
    ],
    [
      'modelVersion with a slash (camelCase named as sent)',
      eg('ModelRegistered', { ...modelRegisteredCamel, modelVersion: '1/../2' }),
      'data.modelVersion: expected a positive integer or a version string',
    ],
    ['ModelName missing (PascalCase sender)', eg('ModelRegistered', { ModelVersion: 1 }), 'data.ModelName: required'],
    ['modelName missing (camelCase sender)', eg('ModelRegistered', { modelVersion: '1' }), 'data.modelName: required'],
    [
      'ModelTags not an object',
      eg('ModelRegistered', { ...modelRegisteredPascal, ModelTags: 'a=b' }),
      'data.ModelTags: expected an object of string values',
    ],
    [
      'DriftCoefficient not a number',
      eg('DatasetDriftDetected', { ...datasetDrift, DriftCoefficient: 'high' }),
      'data.DriftCoefficient: expected a number',
    ],
    [
      'DriftCoefficient negative',
      eg('DatasetDriftDetected', { ...datasetDrift, DriftCoefficient: -0.1 }),
      'data.DriftCoefficient: expected a finite number >= 0',
    ],
    [
      'window reversed',
      eg('DatasetDriftDetected', { ...datasetDrift, EndTime: '2019-07-03T00:00:00Z' }),
      'data.EndTime: must not be before StartTime',
    ],
    ['RunId missing', eg('RunStatusChanged', { ...runData('Failed'), RunId: undefined }), 'data.RunId: required'],
    [
      'RunStatus missing',
      eg('RunStatusChanged', { ...runData('Failed'), RunStatus: undefined }),
      'data.RunStatus: required',
    ],
    [
      'RunTags not an object',
      eg('RunStatusChanged', runData('Failed', 'x' as never)),
      'data.RunTags: expected an object of string values',
    ],
  ];
  it.each(bad)('%s', (_name, event, message) => {
    let thrown: unknown;
    try {
      parseEvent(event);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(EventValidationError);
    expect((thrown as Error).message).toBe(message);
  });

  it('the error carries the path, the issue and the event id', () => {
    const event = eg('ModelRegistered', { ...modelRegisteredPascal, ModelVersion: -3 }, { id: 'evt-9' });
    expect(() => parseEvent(event)).toThrow(
      expect.objectContaining({ path: 'data.ModelVersion', issue: 'expected a positive integer', eventId: 'evt-9' }),
    );
  });
});

describe('parseEventGridDelivery', () => {
  it('returns one result per event, in order, and one bad event does not hide the others', () => {
    const results = parseEventGridDelivery([
      eg('ModelRegistered', modelRegisteredPascal, { id: 'a' }),
      eg('ModelRegistered', { ...modelRegisteredPascal, ModelVersion: 'x/y' }, { id: 'b' }),
      eg('RunStatusChanged', runData('Failed', { azureml_modelmonitor_threshold_breached: BREACH_MESSAGE }), {
        id: 'c',
      }),
      42,
    ]);
    expect(results.map((r) => [r.index, r.ok])).toEqual([
      [0, true],
      [1, false],
      [2, true],
      [3, false],
    ]);
    expect(results[1]).toMatchObject({ ok: false, eventId: 'b' });
    expect(results[1]?.ok === false && results[1].error.path).toBe('data.ModelVersion');
    expect(results[2]).toMatchObject({ ok: true, command: { kind: 'drift', signal: 'breach' } });
    expect(results[3]).not.toHaveProperty('eventId');
  });

  it.each([
    ['a single CloudEvent', ce('ModelRegistered', modelRegisteredPascal)],
    [
      'a single Event Grid event (as the Functions trigger hands it over)',
      eg('ModelRegistered', modelRegisteredPascal),
    ],
  ])('accepts %s', (_name, body) => {
    expect(parseEventGridDelivery(body)).toEqual([
      { index: 0, ok: true, command: expect.objectContaining({ kind: 'model-registered' }) },
    ]);
  });

  it('accepts a CloudEvents batch and an empty array', () => {
    const batch = [ce('ModelRegistered', modelRegisteredPascal), ce('DatasetDriftDetected', datasetDrift)];
    expect(parseEventGridDelivery(batch).map((r) => r.ok && r.command.kind)).toEqual(['model-registered', 'drift']);
    expect(parseEventGridDelivery([])).toEqual([]);
  });

  it.each([
    ['a string', 'x'],
    ['null', null],
    ['a number', 1],
  ])('rejects %s as a delivery', (_name, body) => {
    expect(() => parseEventGridDelivery(body)).toThrow(EventValidationError);
  });

  it('passes options through to each event', () => {
    const [result] = parseEventGridDelivery([eg('RunStatusChanged', runData('Completed'))], {
      monitorExperimentNames: ['credit-monitor'],
    });
    expect(result).toMatchObject({ ok: true, command: { kind: 'drift', signal: 'recovery' } });
  });
});

describe('durable instance ids', () => {
  /** Characters Durable Functions rejects in instance ids: '/', '\\', '#', '?' and control characters. */
  const isValidInstanceId = (id: string) =>
    [...id].every((ch) => !'/\\#?'.includes(ch) && ch.charCodeAt(0) >= 0x20 && ch.charCodeAt(0) !== 0x7f);

  it('the validity check itself rejects what Durable rejects', () => {
    expect(['a/b', 'a\\b', 'a#b', 'a?b', 'a\u0000b', 'a\u007fb'].map(isValidInstanceId)).toEqual(Array(6).fill(false));
    expect(isValidInstanceId('promote:churn:7')).toBe(true);
  });

  it.each([
    ['plain names stay readable', promotionInstanceId('churn', '7'), 'promote:churn:7'],
    ['numeric versions equal their string form', promotionInstanceId('churn', 7), 'promote:churn:7'],
    ['retraining is one id per model', retrainingInstanceId('churn-model.v2'), 'retrain:churn-model.v2'],
  ])('%s', (_name, actual, expected) => {
    expect(actual).toBe(expected);
  });

  it.each([
    ['slash', 'team/churn'],
    ['backslash', 'team\\churn'],
    ['hash', 'churn#1'],
    ['question mark', 'churn?x'],
    ['control character', 'churn\u0007'],
    ['newline', 'churn\nx'],
    ['colon (the separator)', 'a:b'],
    ['tilde (the hash marker)', 'a~b'],
    ['non-ASCII', 'modèle'],
    ['very long name', 'm'.repeat(300)],
  ])('unsafe input (%s) gives a valid, hashed, bounded id', (_name, modelName) => {
    const id = promotionInstanceId(modelName, '1');
    expect(isValidInstanceId(id)).toBe(true);
    expect(id.length).toBeLessThanOrEqual(DURABLE_INSTANCE_ID_MAX_LENGTH);
    expect(id).toMatch(/~[0-9a-f]{16}$/);
    expect(promotionInstanceId(modelName, '1')).toBe(id);
  });

  it('distinct inputs that sanitise alike still get distinct ids', () => {
    const ids = new Set(['a/b', 'a\\b', 'a#b', 'a?b', 'a_b', 'a:b'].map((m) => promotionInstanceId(m, '1')));
    expect(ids.size).toBe(6);
    expect(promotionInstanceId('a', 'b:c')).not.toBe(promotionInstanceId('a:b', 'c'));
    const long = 'x'.repeat(200);
    expect(promotionInstanceId(long, '1')).not.toBe(promotionInstanceId(long, '2'));
  });

  it('a 100-character plain id is kept; 101 characters are hashed', () => {
    const name100 = 'm'.repeat(100 - 'retrain:'.length);
    expect(retrainingInstanceId(name100)).toBe(`retrain:${name100}`);
    expect(retrainingInstanceId(`${name100}m`)).toHaveLength(100);
    expect(retrainingInstanceId(`${name100}m`)).toMatch(/~[0-9a-f]{16}$/);
  });

  it('rejects empty parts', () => {
    expect(() => durableInstanceId('promote', '')).toThrow(RangeError);
    expect(() => durableInstanceId()).toThrow(RangeError);
  });

  it.each([
    ['', 'cbf29ce484222325'],
    ['a', 'af63dc4c8601ec8c'],
    ['foobar', '85944171f73967e8'],
  ])('fnv1a64(%j) matches the reference vectors', (input, expected) => {
    expect(fnv1a64(input)).toBe(expected);
  });
});

describe('parseEvent: hostile data', () => {
  const nested = (depth: number): unknown => {
    let value: unknown = 1;
    for (let i = 0; i < depth; i++) value = { a: value };
    return value;
  };

  it.each([40, 100_000])('data nested %i levels deep is invalid, not a stack overflow', (depth) => {
    const event = eg('ModelRegistered', { ModelName: 'm', ModelVersion: 3, ModelTags: nested(depth) });
    expect(() => parseEvent(event)).toThrow(EventValidationError);
    expect(() => parseEvent(event)).toThrow(/nested deeper than 32 levels/);
  });

  it.each(['../demand', 'demand/1', 'x'.repeat(256), ''])(
    'a model name Azure ML cannot have (%j) is invalid',
    (name) => {
      expect(() => parseEvent(eg('ModelRegistered', { ModelName: name, ModelVersion: 3 }))).toThrow(/data\.ModelName/);
    },
  );
});
