/**
 * The HTTP API: start a promotion by hand, read promotions, and decide on one (signed link, API or CLI).
 */
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import * as df from 'durable-functions';
import { modelRef, STAGE_TAG } from '../lib/activities';
import { getApp } from '../lib/app';
import { armNameProblem } from '../lib/domain/names';
import { json, problem, readJsonObject, text } from '../lib/http';
import { decisionCaller } from '../lib/identity';
import { promotionInstanceIdPrefix } from '../lib/domain/events';
import { parseModelVersion } from '../lib/domain/versions';
import { readAllInstances, readInstancePage, type InstanceStatus } from '../lib/promotion-list';
import {
  attemptState,
  attemptsOf,
  instanceStatus,
  retryPromotion,
  startPromotion,
  submitDecision,
} from '../lib/promotions';
import type { PromotionInput, PromotionResult } from '../orchestrations/contract';
import { ROLLBACK_MODEL_ORCHESTRATION } from '../orchestrations/rollback-model';
import { startRollback } from '../lib/rollbacks';
import { freezeReleases, liftFreeze, readFreezes } from '../lib/freezes';
import { historyExport, historyQuery, historySources, noModel, readScopedHistory } from '../lib/history';
import { appDryRunDeps, dryRunPromotion } from '../lib/dry-run';
import { submitControl } from '../lib/rollout-controls';
import { decisionEvidenceDigest } from '../lib/web/promotion-routes';
import { nameProblem } from '../lib/domain/people';

function summary(status: df.DurableOrchestrationStatus | InstanceStatus) {
  const input = status.input as PromotionInput | null | undefined;
  return {
    id: status.instanceId,
    attempt: input?.attempt ?? 1,
    ...(input?.retryOf ? { retryOf: input.retryOf } : {}),
    ...(input?.registrant ? { registrant: input.registrant } : {}),
    runtimeStatus: status.runtimeStatus,
    createdTime: status.createdTime,
    lastUpdatedTime: status.lastUpdatedTime,
    status: status.customStatus,
    result: status.output,
  };
}

df.app.client.http('startPromotionHttp', {
  authLevel: 'function',
  route: 'api/promotions',
  methods: ['POST'],
  handler: async (request, client) => {
    const read = await readJsonObject(request);
    if (!read.ok) return read.response;
    const { body } = read;
    const modelName = text(body.modelName);
    if (!modelName) return problem(400, 'modelName: required.');
    const invalidName = armNameProblem('asset', modelName);
    if (invalidName) return problem(400, `modelName: ${invalidName}.`);
    const version = parseModelVersion(body.modelVersion);
    if (!version.ok) return problem(400, version.message);
    if (body.registeredBy !== undefined)
      return problem(
        400,
        "registeredBy: who registered a model is read from the registry (the version's systemData.createdBy), not given.",
      );
    if (body.dryRun !== undefined && typeof body.dryRun !== 'boolean')
      return problem(400, 'dryRun: must be true or false.');
    const { policies, deps } = getApp();
    if (body.dryRun) {
      // The promotion's decisions against live state, changing nothing (lib/dry-run.ts): 200 with the plan.
      const preview = await dryRunPromotion(client, policies, appDryRunDeps(getApp()), {
        modelName,
        modelVersion: version.version,
      });
      if (preview.kind === 'not-found') return problem(404, preview.message);
      return json(200, preview.result);
    }
    const outcome = await startPromotion(client, policies, deps.workspace, {
      modelName,
      modelVersion: version.version,
      source: 'manual',
    });
    if (outcome.kind === 'not-found') return problem(404, outcome.message);
    if (outcome.kind === 'exists') return json(409, { id: outcome.id, error: outcome.message });
    if (outcome.kind === 'in-production') return problem(409, outcome.message);
    return json(202, { id: outcome.id, attempt: outcome.attempt, statusUrl: statusUrl(request, outcome.id) });
  },
});

/** A new attempt of a promotion that failed, timed out or was stopped; never of one running or finished well. */
df.app.client.http('retryPromotion', {
  authLevel: 'function',
  route: 'api/promotions/{id}/retry',
  methods: ['POST'],
  handler: async (request, client) => {
    const { policies, deps } = getApp();
    const { forWorkspace } = deps;
    const outcome = await retryPromotion(
      client,
      policies,
      deps.workspace,
      request.params.id ?? '',
      forWorkspace && ((id) => forWorkspace(id).workspace),
    );
    if (outcome.kind === 'refused') return problem(outcome.status, outcome.message);
    return json(202, {
      id: outcome.id,
      attempt: outcome.attempt,
      retryOf: outcome.retryOf,
      ...(outcome.carried ? { carried: outcome.carried } : {}),
      statusUrl: statusUrl(request, outcome.id),
    });
  },
});

const statusUrl = (request: HttpRequest, id: string) =>
  `${new URL(request.url).origin}/api/promotions/${encodeURIComponent(id)}`;

const MAX_PAGE = 1000;

/**
 * Without `top`, every promotion (of `model`), newest first. With `top`, one page in the task hub's order and, when
 * more follow, the token for the next in `x-ms-continuation-token` (as the Durable HTTP API pages).
 */
df.app.client.http('listPromotions', {
  authLevel: 'function',
  route: 'api/promotions',
  methods: ['GET'],
  handler: async (request, _client, context) => {
    const model = request.query.get('model') ?? undefined;
    const topParam = request.query.get('top');
    const top = topParam === null ? undefined : Number(topParam);
    if (top !== undefined && !(Number.isInteger(top) && top >= 1 && top <= MAX_PAGE)) {
      return problem(400, `top: a whole number from 1 to ${MAX_PAGE}.`);
    }
    const ofModel = (s: InstanceStatus) =>
      s.name === 'promoteModel' && (!model || (s.input as { modelName?: string } | undefined)?.modelName === model);
    const query = { instanceIdPrefix: promotionInstanceIdPrefix(model), top: top ?? MAX_PAGE };
    if (top !== undefined) {
      const continuationToken = request.headers.get('x-ms-continuation-token') ?? undefined;
      const page = await readInstancePage(context, { ...query, continuationToken });
      const reply = json(200, page.instances.filter(ofModel).map(summary));
      if (page.continuationToken) reply.headers = { 'x-ms-continuation-token': page.continuationToken };
      return reply;
    }
    const all = await readAllInstances(
      context,
      { instanceIdPrefix: query.instanceIdPrefix, pageSize: MAX_PAGE },
      ofModel,
    );
    all.sort((a, b) => String(b.createdTime).localeCompare(String(a.createdTime)));
    return json(200, all.map(summary));
  },
});

df.app.client.http('getPromotion', {
  authLevel: 'function',
  route: 'api/promotions/{id}',
  methods: ['GET'],
  handler: async (request, client) => {
    const status = await instanceStatus(client, request.params.id ?? '');
    if (!status || status.name !== 'promoteModel') return problem(404, `No promotion "${request.params.id}".`);
    // Every attempt of the same version, so a reader sees the history of each.
    const { modelName, modelVersion } = status.input as PromotionInput;
    const attempts = await attemptsOf(client, modelName, modelVersion);
    // The removal of the warm slot its release left, once the rollback window ends.
    const window = (status.output as PromotionResult | null | undefined)?.rollbackWindow;
    const retiring = window ? await instanceStatus(client, window.retirementId) : undefined;
    return json(200, {
      ...summary(status),
      ...(retiring
        ? {
            retirement: {
              runtimeStatus: retiring.runtimeStatus,
              status: retiring.customStatus,
              result: retiring.output,
            },
          }
        : {}),
      attempts: attempts.map(({ attempt, status: s }) => {
        const state = attemptState(s);
        return { id: state.id, attempt, runtimeStatus: state.runtimeStatus, outcome: state.outcome ?? null };
      }),
    });
  },
});

/**
 * Decisions through a signed link: the token is the authorisation, so the route is open. The link carries the
 * token in its fragment (never sent, never logged); the page at the link's address POSTs it here in the body.
 */
df.app.client.http('decidePromotion', {
  authLevel: 'anonymous',
  route: 'api/promotions/{id}/decision',
  methods: ['POST'],
  handler: async (request, client) => {
    // A token in a query string is in every access log on its way: refuse it rather than accept the habit.
    if (request.query.has('token'))
      return problem(400, 'token: send it in the body ({"token": …}), not in the URL, where it would be logged.');
    const read = await readJsonObject(request);
    if (!read.ok) return read.response;
    const { body } = read;
    const token = text(body.token);
    if (!token)
      return problem(401, 'token: a signed approval link is required here; the API takes decisions at /decisions.');
    return decide(request, client, body, token, 'link');
  },
});

/**
 * Approval links sent before they opened the promotion's page pointed here: sent on to the page (`/promotions/{id}`).
 * A browser keeps the fragment, and with it the token, across a redirect whose Location has none (Fetch, "HTTP-
 * redirect fetch"), so such a link still opens the page with its token, which never reaches the server.
 */
df.app.client.http('approvalLinkRedirect', {
  authLevel: 'anonymous',
  route: 'api/promotions/{id}/decision',
  methods: ['GET'],
  handler: async (request) => ({
    status: 302,
    headers: {
      location: `/promotions/${encodeURIComponent(request.params.id ?? '')}`,
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
    },
  }),
});

/** The digest of the evidence a decision would be taken on now (while the promotion or run waits for one). */
df.app.client.http('getDecisionEvidence', {
  authLevel: 'function',
  route: 'api/promotions/{id}/evidence',
  methods: ['GET'],
  handler: async (request, client) => {
    const id = request.params.id ?? '';
    const digest = await decisionEvidenceDigest(client, id);
    if (digest === undefined) return problem(404, `${id} does not wait for a decision.`);
    return json(200, { id, evidenceDigest: digest });
  },
});

/** Decisions through the API and the CLI: the caller holds a function key (or passes App Service authentication). */
df.app.client.http('decidePromotionApi', {
  authLevel: 'function',
  route: 'api/promotions/{id}/decisions',
  methods: ['POST'],
  handler: async (request, client) => {
    const read = await readJsonObject(request);
    if (!read.ok) return read.response;
    const { body } = read;
    return decide(request, client, body, undefined, body.via === 'cli' ? 'cli' : 'api');
  },
});

async function decide(
  request: HttpRequest,
  client: df.DurableClient,
  body: Record<string, unknown>,
  token: string | undefined,
  via: 'link' | 'api' | 'cli',
): Promise<HttpResponseInit> {
  const { settings, identity } = getApp();
  if (body.approver !== undefined && typeof body.approver !== 'string')
    return problem(400, 'approver: must be a string.');
  if (body.evidenceDigest !== undefined && typeof body.evidenceDigest !== 'string')
    return problem(400, 'evidenceDigest: must be a string (GET /api/promotions/{id}/evidence gives it).');
  const claimed = body.approver;
  const id = request.params.id ?? '';
  // Bound to the evidence the decider read, as the page binds its form: refused when it has changed since.
  const given = body.evidenceDigest;
  if (given !== undefined) {
    const now = await decisionEvidenceDigest(client, id);
    if (now !== undefined && now !== given)
      return problem(
        409,
        `evidenceDigest: the evidence of ${id} changed since it was read (${given.slice(0, 12)}… is now ${now.slice(0, 12)}…): read it again (champion show ${id}) and decide on it.`,
      );
  }
  const outcome = await submitDecision(
    client,
    settings.CHAMPION_APPROVAL_SECRET,
    {
      promotionId: id,
      decision: text(body.decision),
      comment: text(body.comment),
      token,
      via,
      ...(given !== undefined ? { evidenceDigest: given } : {}),
      identify: (issuedTo) => decisionCaller(identity, (name) => request.headers.get(name), claimed, issuedTo),
    },
    new Date(),
  );
  if (!outcome.ok) return problem(outcome.status, outcome.message);
  const { approver, pending } = outcome;
  return json(202, pending ? { accepted: true, approver, pending } : { accepted: true, approver });
}

/**
 * Rollout controls (see lib/rollout-controls.ts): pause, resume, promote-now, abort; who (as decisions establish it)
 * and why are recorded by the promotion. 202 once the rollout took it (`taken`), or sent while it is between bakes.
 */
df.app.client.http('controlRollout', {
  authLevel: 'function',
  route: 'api/promotions/{id}/rollout/{action}',
  methods: ['POST'],
  handler: async (request, client) => {
    const read = await readJsonObject(request);
    if (!read.ok) return read.response;
    const { body } = read;
    if (body.by !== undefined && typeof body.by !== 'string') return problem(400, 'by: must be a string.');
    const claimed = body.by;
    const { settings, identity } = getApp();
    const outcome = await submitControl(
      client,
      settings.CHAMPION_APPROVAL_SECRET,
      {
        promotionId: request.params.id ?? '',
        action: request.params.action ?? '',
        reason: text(body.reason),
        via: body.via === 'cli' ? 'cli' : 'api',
        identify: () => decisionCaller(identity, (name) => request.headers.get(name), claimed),
      },
      new Date(),
    );
    if (!outcome.ok) return problem(outcome.status, outcome.message);
    const { action, by, authenticated, reason } = outcome.control;
    return json(202, { accepted: true, taken: outcome.taken, action, by, authenticated, reason });
  },
});

/**
 * An alert from outside (a monitoring webhook holding a function key) stops the bake: the rollout is aborted with the
 * alert's reason, recorded as coming from `source`.
 */
df.app.client.http('rolloutAlert', {
  authLevel: 'function',
  route: 'api/promotions/{id}/alert',
  methods: ['POST'],
  handler: async (request, client) => {
    const read = await readJsonObject(request);
    if (!read.ok) return read.response;
    const { body } = read;
    const source = text(body.source);
    if (!source) return problem(400, 'source: name what raised the alert (e.g. the alert rule).');
    const checked = nameProblem(source);
    if (checked) return problem(400, `source: ${checked}.`);
    const { settings } = getApp();
    const outcome = await submitControl(
      client,
      settings.CHAMPION_APPROVAL_SECRET,
      {
        promotionId: request.params.id ?? '',
        action: 'abort',
        reason: text(body.reason),
        via: 'alert',
        // An alert is no person: it is named by its source, as the request gives it.
        identify: () => ({ ok: true, caller: { name: source, authenticated: false, source: 'request' } }),
      },
      new Date(),
    );
    if (!outcome.ok) return problem(outcome.status, outcome.message);
    return json(202, { accepted: true, taken: outcome.taken, action: 'abort', source, reason: outcome.control.reason });
  },
});

/**
 * Release freezes (lib/freezes.ts): GET shows the policy's windows and a person's freeze; POST freezes (reason, until
 * optional) or lifts one (reason), recorded with who and why. A promotion reaching its release meanwhile waits.
 */
df.app.client.http('readFreezeHttp', {
  authLevel: 'function',
  route: 'api/models/{name}/freeze',
  methods: ['GET'],
  handler: async (request, client) => {
    const modelName = request.params.name ?? '';
    const invalid = armNameProblem('asset', modelName);
    if (invalid) return problem(400, `name: ${invalid}.`);
    const read = await readFreezes(client, getApp().policies, modelName, new Date());
    return read.ok ? json(200, read.value) : problem(read.status, read.message);
  },
});
/**
 * A person's request about a model (freeze, lift, roll back): the model named as Azure ML names it, a JSON body, and
 * who asks — the platform's say-so where there is one, else the body's `by` (lib/identity.ts).
 */
async function modelRequest(request: HttpRequest) {
  const modelName = request.params.name ?? '';
  const invalid = armNameProblem('asset', modelName);
  if (invalid) return { ok: false as const, response: problem(400, `name: ${invalid}.`) };
  const read = await readJsonObject(request);
  if (!read.ok) return read;
  const { body } = read;
  if (body.by !== undefined && typeof body.by !== 'string') {
    return { ok: false as const, response: problem(400, 'by: must be a string.') };
  }
  const claimed = body.by;
  const { identity } = getApp();
  const identify = () => decisionCaller(identity, (header) => request.headers.get(header), claimed);
  return { ok: true as const, modelName, body, identify };
}

function freezeRoute(name: string, action: 'freeze' | 'unfreeze') {
  df.app.client.http(name, {
    authLevel: 'function',
    route: `api/models/{name}/${action}`,
    methods: ['POST'],
    handler: async (request, client, context) => {
      const asked = await modelRequest(request);
      if (!asked.ok) return asked.response;
      const { modelName, body, identify } = asked;
      const { policies, deps } = getApp();
      const asking = { modelName, reason: body.reason, identify, ...(deps.lifecycle && { lifecycle: deps.lifecycle }) };
      const answer =
        action === 'unfreeze'
          ? await liftFreeze(context, client, policies, asking, new Date())
          : await freezeReleases(client, policies, { ...asking, until: body.until }, new Date());
      return answer.ok ? json(200, answer.value) : problem(answer.status, answer.message);
    },
  });
}
freezeRoute('freezeReleasesHttp', 'freeze');
freezeRoute('liftFreezeHttp', 'unfreeze');

/** A person puts the previous production version back (see orchestrations/rollback-model.ts); who and why recorded. */
df.app.client.http('rollbackModelHttp', {
  authLevel: 'function',
  route: 'api/models/{name}/rollback',
  methods: ['POST'],
  handler: async (request, client) => {
    const asked = await modelRequest(request);
    if (!asked.ok) return asked.response;
    const { modelName, body, identify } = asked;
    const started = await startRollback(
      client,
      getApp().policies,
      {
        modelName,
        reason: text(body.reason),
        ...(body.environment !== undefined ? { environment: body.environment } : {}),
        identify,
      },
      new Date(),
    );
    if (!started.ok) return problem(started.status, started.message);
    const url = `${new URL(request.url).origin}/api/rollbacks/${encodeURIComponent(started.id)}`;
    return json(202, { id: started.id, statusUrl: url });
  },
});

df.app.client.http('getRollback', {
  authLevel: 'function',
  route: 'api/rollbacks/{id}',
  methods: ['GET'],
  handler: async (request, client) => {
    const status = await instanceStatus(client, request.params.id ?? '');
    if (!status || status.name !== ROLLBACK_MODEL_ORCHESTRATION)
      return problem(404, `No rollback "${request.params.id}".`);
    return json(200, {
      id: status.instanceId,
      runtimeStatus: status.runtimeStatus,
      createdTime: status.createdTime,
      lastUpdatedTime: status.lastUpdatedTime,
      status: status.customStatus,
      result: status.output,
    });
  },
});

app.http('getModel', {
  authLevel: 'function',
  route: 'api/models/{name}',
  methods: ['GET'],
  handler: async (request) => {
    const invalid = armNameProblem('asset', request.params.name);
    if (invalid) return problem(400, `name: ${invalid}.`);
    const versions = await getApp().deps.workspace.listModelVersions(request.params.name ?? '');
    if (versions.length === 0) return problem(404, `No model "${request.params.name}".`);
    return json(200, {
      name: request.params.name,
      versions: versions
        .map((v) => ({ version: v.version, stage: v.tags[STAGE_TAG] ?? null, tags: v.tags, properties: v.properties }))
        .sort((a, b) => Number(a.version) - Number(b.version)),
    });
  },
});

/**
 * What was in production for the model and when: each interval with who approved it, the evidence and the commit.
 * `?at=ISO` answers for one instant; `?format=csv` exports the same rows.
 */
df.app.client.http('modelHistory', {
  authLevel: 'function',
  route: 'api/models/{name}/history',
  methods: ['GET'],
  handler: async (request, _client, context) => {
    const query = historyQuery(request.params.name ?? '', request.query, ['json', 'csv']);
    if (!query.ok) return problem(query.status, query.message);
    const read = await readScopedHistory(context, historySources(getApp()), query.modelName, query.environment);
    if (!read.ok) return problem(read.status, read.message);
    const history = read.history;
    if (!history) return noModel(query.modelName);
    return historyExport(history, query.format === 'csv' ? 'csv' : 'json', query.at?.date);
  },
});

app.http('getEndpoint', {
  authLevel: 'function',
  route: 'api/endpoints/{name}',
  methods: ['GET'],
  handler: async (request) => {
    const invalid = armNameProblem('endpoint', request.params.name);
    if (invalid) return problem(400, `name: ${invalid}.`);
    const { workspace } = getApp().deps;
    const endpoint = await workspace.getEndpoint(request.params.name ?? '');
    if (!endpoint) return problem(404, `No endpoint "${request.params.name}".`);
    const deployments = await workspace.listDeployments(endpoint.name);
    return json(200, {
      name: endpoint.name,
      provisioningState: endpoint.provisioningState,
      traffic: endpoint.traffic,
      mirrorTraffic: endpoint.mirrorTraffic,
      tags: endpoint.tags,
      deployments: deployments.map((d) => ({
        name: d.name,
        model: modelRef(d.modelId) ?? null,
        provisioningState: d.provisioningState,
        traffic: endpoint.traffic[d.name] ?? 0,
        tags: d.tags,
      })),
    });
  },
});

app.http('health', {
  authLevel: 'anonymous',
  route: 'api/health',
  methods: ['GET'],
  handler: async () => {
    const { settings, policies } = getApp();
    return json(200, { status: 'ok', models: Object.keys(policies), gitCommit: settings.CHAMPION_GIT_SHA ?? null });
  },
});
