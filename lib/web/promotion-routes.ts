/**
 * The promotion's page and its decisions, for the HTTP triggers in functions/dashboard.ts: who may look (identity as
 * lib/identity.ts establishes it), who may decide, the evidence digest check, and the page answered in each case
 * (expired, invalid, used or superseded links; changed evidence; another approver first). A retraining run waiting
 * to register its model is decided at the same address, with its own smaller page.
 */
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type * as df from 'durable-functions';
import { alreadyDecided, checkApprover, verifyApprovalToken } from '../approval';
import { modelRef } from '../activities';
import { getApp } from '../app';
import { FIELD_LIMITS, MAX_BODY_BYTES, readText } from '../http';
import { decisionCaller } from '../identity';
import { instanceStatus, submitDecision } from '../promotions';
import type {
  PromotionInput,
  PromotionResult,
  PromotionStatus,
  RetrainingInput,
  RetrainingResult,
  RetrainingStatus,
} from '../../orchestrations/contract';
import type { PageOptions } from './layout';
import {
  decisionText,
  evidenceDigest,
  noticePage,
  decisionState,
  promotionPage,
  signInPage,
  type DecisionForm,
  type EndpointState,
  type Notice,
  type PromotionPageData,
} from './promotion-page';
import { runEvidenceDigest, runPage, type RunPageData } from './run-page';
import { sitePage } from './site';

const headerOf = (request: HttpRequest) => (name: string) => request.headers.get(name);

/** What the page shows: a promotion, or a retraining run that asks for a decision before registering. */
type Shown = { kind: 'promotion'; data: PromotionPageData } | { kind: 'run'; data: RunPageData };

/** Reads the instance, the version from the registry and the endpoint's state; undefined when there is none to show. */
export async function loadShown(client: df.DurableClient, id: string): Promise<Shown | undefined> {
  const status = await instanceStatus(client, id);
  if (!status?.input) return undefined;
  const runtimeStatus = String(status.runtimeStatus);
  if (status.name === 'retrainModel') {
    const input = status.input as RetrainingInput;
    if (!input.retraining?.approval) return undefined;
    return {
      kind: 'run',
      data: {
        id,
        runtimeStatus,
        input,
        status: (status.customStatus ?? undefined) as RetrainingStatus | undefined,
        result: (status.output ?? undefined) as RetrainingResult | undefined,
      },
    };
  }
  if (status.name !== 'promoteModel') return undefined;
  const input = status.input as PromotionInput;
  const { workspace } = getApp().deps;
  // The page still shows the promotion when the registry or the endpoint cannot be read.
  const [version, endpoint] = await Promise.all([
    workspace.getModelVersion(input.modelName, input.modelVersion).catch(() => undefined),
    readEndpoint(input.policy.endpointName).catch(() => undefined),
  ]);
  return {
    kind: 'promotion',
    data: {
      id,
      runtimeStatus,
      createdTime: status.createdTime ? new Date(status.createdTime).toISOString() : undefined,
      input,
      status: (status.customStatus ?? undefined) as PromotionStatus | undefined,
      result: (status.output ?? undefined) as PromotionResult | undefined,
      version,
      endpoint,
    },
  };
}

async function readEndpoint(name: string): Promise<EndpointState | undefined> {
  const { workspace } = getApp().deps;
  const endpoint = await workspace.getEndpoint(name);
  if (!endpoint) return undefined;
  const deployments = await workspace.listDeployments(name);
  return {
    name,
    provisioningState: endpoint.provisioningState,
    traffic: endpoint.traffic,
    deployments: deployments.map((d) => ({
      name: d.name,
      model: modelRef(d.modelId) ?? null,
      provisioningState: d.provisioningState,
    })),
  };
}

const digestOf = (shown: Shown) =>
  shown.kind === 'promotion' ? evidenceDigest(shown.data) : runEvidenceDigest(shown.data);

/**
 * The digest of the evidence a decision on `id` would be taken on now (the one its page shows and its form sends),
 * while it waits for one; undefined otherwise. The API and the CLI bind a decision to it as the page does.
 */
export async function decisionEvidenceDigest(client: df.DurableClient, id: string): Promise<string | undefined> {
  const shown = await loadShown(client, id);
  return shown && decisionState(shown.data).waiting ? digestOf(shown) : undefined;
}

function render(shown: Shown, form: DecisionForm, options: { notice?: Notice; closed?: Notice }): PageOptions {
  return shown.kind === 'promotion' ? promotionPage(shown.data, form, options) : runPage(shown.data, form, options);
}

/** Who is looking: locally the local user; on Azure only a user App Service authentication signed in. */
const viewer = (request: HttpRequest) => decisionCaller(getApp().identity, headerOf(request), undefined);

const noticeResponse = (status: number, notice: Notice) => sitePage(status, noticePage(notice));

const noSuchPromotion = (id: string) =>
  noticeResponse(404, { tone: 'bad', title: 'No such promotion', text: `There is no promotion "${id}".` });

/** Why a link or form can no longer decide, for an instance that does not wait for a decision. */
function closedNotice(shown: Shown): Notice {
  const { data } = shown;
  const taken = data.status?.decision ?? data.result?.decision;
  if (taken)
    return {
      tone: 'warn',
      title: 'Already decided',
      text: `${alreadyDecided(taken)} This link or form changes nothing now.`,
    };
  if (data.result?.outcome === 'superseded')
    return {
      tone: 'warn',
      title: 'Superseded',
      text: `This promotion was superseded (${data.result.reason}); its approval links decide nothing now.`,
    };
  if (data.result)
    return {
      tone: 'warn',
      title: 'Finished',
      text: `This ${shown.kind === 'run' ? 'retraining run' : 'promotion'} ended (${data.result.outcome}): nothing to decide.`,
    };
  return {
    tone: 'warn',
    title: 'No decision asked for',
    text: `This ${shown.kind === 'run' ? 'retraining run' : 'promotion'} is ${data.status?.phase ?? data.runtimeStatus}: it does not wait for a decision now.`,
  };
}

/** Whether the caller (without a link) may decide: their name, or why not. */
function callerForm(request: HttpRequest, shown: Shown): DecisionForm {
  const who = viewer(request);
  if (!who.ok) return { why: who.message };
  const allowed = checkApprover({
    approver: who.caller.name,
    registeredBy: shown.kind === 'promotion' ? shown.data.input.registeredBy : undefined,
    allowedApprovers:
      shown.kind === 'promotion'
        ? shown.data.input.policy.approval.approvers
        : shown.data.input.retraining.approval?.approvers,
  });
  if (allowed.ok) return { caller: who.caller.name };
  const model = shown.data.input.modelName;
  const why = {
    anonymous: 'Deciding needs a name.',
    'self-approval': `You (${who.caller.name}) registered this version: someone else approves it.`,
    'not-an-approver': `You (${who.caller.name}) are not an approver for ${model}; approvers use the link they were sent.`,
  }[allowed.reason];
  return { why };
}

/** GET /promotions/{id}: the promotion (or run), with the form for whoever may decide and a link's holder. */
export async function showPromotion(request: HttpRequest, client: df.DurableClient): Promise<HttpResponseInit> {
  // A token in a query string is in every access log on its way: the link carries it in the fragment.
  if (request.query.has('token'))
    return noticeResponse(400, {
      tone: 'bad',
      title: 'Not a valid approval link',
      text: 'token: an approval link carries its token after "#", never in the query string, where it would be logged. Open the link exactly as it was sent to you.',
    });
  const who = viewer(request);
  if (!who.ok) {
    if (who.status === 401)
      return sitePage(
        401,
        signInPage(
          new URL(request.url).pathname,
          "Champion's pages are for users App Service authentication signed in: sign in to see this promotion.",
        ),
      );
    return noticeResponse(who.status, { tone: 'bad', title: 'Not allowed', text: who.message });
  }
  const id = request.params.id ?? '';
  const shown = await loadShown(client, id);
  if (!shown) return noSuchPromotion(id);
  const waiting = decisionState(shown.data).waiting;
  return sitePage(200, render(shown, callerForm(request, shown), waiting ? {} : { closed: closedNotice(shown) }));
}

type FormRead = { ok: true; fields: Record<string, string> } | { ok: false; response: HttpResponseInit };

/** An application/x-www-form-urlencoded body (the pages' forms), with the API's size and field limits. */
async function readForm(request: HttpRequest): Promise<FormRead> {
  const bad = (status: number, text: string): FormRead => ({
    ok: false,
    response: noticeResponse(status, { tone: 'bad', title: 'Not accepted', text }),
  });
  if (!(request.headers.get('content-type') ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded'))
    return bad(415, 'The decision is sent by the form of the promotion’s page; scripts use the API’s decision routes.');
  if (Number(request.headers.get('content-length') ?? 0) > MAX_BODY_BYTES)
    return bad(413, `The form is larger than ${MAX_BODY_BYTES} bytes.`);
  const raw = await readText(request, MAX_BODY_BYTES);
  if (raw === undefined) return bad(413, `The form is larger than ${MAX_BODY_BYTES} bytes.`);
  const fields: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(raw)) fields[name] = value;
  for (const [field, max] of Object.entries(FIELD_LIMITS)) {
    const value = fields[field];
    if (value !== undefined && value.length > max) return bad(400, `${field}: at most ${max} characters.`);
  }
  return { ok: true, fields };
}

/**
 * A form post made by a browser on a page of another site carries that site's Origin: refused, so no other page
 * can make the local user's (or a signed-in approver's) browser decide.
 */
function crossSite(request: HttpRequest): boolean {
  // Sec-Fetch-Site is set by the browser itself; the Origin comparison is for browsers that do not send it.
  const site = request.headers.get('sec-fetch-site');
  if (site) return site !== 'same-origin' && site !== 'none';
  const origin = request.headers.get('origin');
  return origin !== null && origin !== new URL(request.url).origin;
}

/**
 * POST /promotions/{id}: the page's form decides — with an approval link's token (the link's holder), or without
 * one as the caller (the local user, a signed-in approver) — then shows the result.
 */
export async function decideFromPage(request: HttpRequest, client: df.DurableClient): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  const page = (status: number, shown: Shown, notice: Notice, form: DecisionForm = { why: '' }) =>
    sitePage(status, render(shown, form, { notice }));
  if (crossSite(request))
    return noticeResponse(403, {
      tone: 'bad',
      title: 'Not allowed',
      text: 'This form was sent from another site: decide on the promotion’s page itself.',
    });
  const read = await readForm(request);
  if (!read.ok) return read.response;
  const { fields } = read;
  const { settings, identity } = getApp();
  const now = new Date();

  const token = fields.token?.trim() || undefined;
  const viaLink = token !== undefined;
  if (viaLink) {
    const invalid: Notice = {
      tone: 'bad',
      title: 'Not a valid approval link',
      text: 'This link is not one Champion sent, or it was changed on the way: open the link exactly as it was sent to you.',
    };
    const verified = verifyApprovalToken(settings.CHAMPION_APPROVAL_SECRET, token, now);
    if (!verified.ok && verified.reason === 'expired') {
      const shown = await loadShown(client, id);
      const notice: Notice = {
        tone: 'warn',
        title: 'This approval link has expired',
        text: 'An approval link works only until the request expires; it decides nothing now.',
      };
      return shown ? page(403, shown, notice) : noticeResponse(403, notice);
    }
    if (!verified.ok || verified.claims.promotionId !== id) return noticeResponse(403, invalid);
  }

  const shown = await loadShown(client, id);
  if (!shown) return noSuchPromotion(id);
  if (!decisionState(shown.data).waiting) return page(409, shown, closedNotice(shown));

  const digest = digestOf(shown);
  if (fields.evidenceDigest !== digest) {
    const notice: Notice = {
      tone: 'bad',
      title: 'The evidence changed',
      text:
        'What this page shows as evidence changed since it was rendered, so your decision was not sent. ' +
        'Read the evidence below again and decide on it.',
    };
    // The link's token was in the sender's form, not in this page: a link's holder opens the link again.
    return page(
      409,
      shown,
      notice,
      viaLink ? { why: 'Open your approval link again to decide.' } : callerForm(request, shown),
    );
  }

  const outcome = await submitDecision(
    client,
    settings.CHAMPION_APPROVAL_SECRET,
    {
      promotionId: id,
      decision: fields.decision,
      comment: fields.comment,
      token,
      via: viaLink ? 'link' : 'api',
      evidenceDigest: digest,
      identify: (issuedTo) => decisionCaller(identity, headerOf(request), undefined, issuedTo),
    },
    now,
  );
  const after = (await loadShown(client, id)) ?? shown;
  const taken = after.data.status?.decision ?? after.data.result?.decision;
  if (!outcome.ok) {
    const notice: Notice = taken
      ? { tone: 'warn', title: 'Another decision came first', text: `${decisionText(taken)}. Yours was not taken.` }
      : { tone: 'bad', title: 'Decision refused', text: outcome.message };
    return page(outcome.status, after, notice);
  }
  const notice: Notice = outcome.pending
    ? { tone: 'warn', title: 'Decision sent', text: 'It has not been taken yet: reload this page to see it.' }
    : {
        tone: 'good',
        title: 'Decision taken',
        text: taken ? `${decisionText(taken)}.` : 'Your decision was taken.',
      };
  return page(200, after, notice);
}
