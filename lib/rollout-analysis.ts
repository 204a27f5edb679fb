/**
 * The judgement of one rollout step (activity `judgeRolloutStep`): gathers the endpoint's own signals for the
 * step's window and hands them to the pure judge (lib/domain/judge.ts).
 *
 * - Counts come first, from Azure Monitor (`RequestsPerMinute` per deployment and status class, EndpointMetrics port):
 *   the live traffic each slot answered between `from` and `to`. They are read before the replay below, so the
 *   replayed requests are not counted as live traffic of this window (minute grain would take them in otherwise).
 * - Then a sample of rows is replayed to both slots through the `azureml-model-deployment` header, one row per
 *   request so each latency is one request's, alternating which slot goes first so neither always meets a warmer
 *   path: per-request latencies and the two slots' answers to the same rows. The rows are the evaluation data the
 *   promotion was judged on (`rollout.analysis.replay`), sampled with a seed tied to the model and the window, so a
 *   retried activity replays the same rows.
 * A replayed request that fails is left out of the samples (the error rate is judged on the live counts); answers
 * are paired only on rows both slots answered.
 *
 * A mirror phase is judged on the replay alone. The challenger takes no live traffic then, by design (Azure ML mirrors
 * only to a deployment without live traffic, and drops its answers), and whether Azure Monitor counts mirrored copies
 * is not documented: live counts would say "no requests reached the challenger" and never let the phase pass. So the
 * error rate compares the 5xx answers of the two slots to the same replayed rows, held to `minSamples` as the other
 * replayed metrics are: it fails the phase when the challenger fails beyond the allowance, but a hundred replayed rows
 * cannot show a 2 % allowance kept, so short of that it is left to the live steps; latency and agreement decide, as
 * in a live step. The reason says so.
 */
import type { JudgeRolloutStepInput, JudgeRolloutStepOutput } from '../orchestrations/contract';
import type { StepObservations } from './domain/judge';
import { judgeStep } from './domain/judge';
import { createRandom, seedFromString } from './domain/random';
import type { Cell, DataReader, DeploymentRequestCounts, EndpointMetrics, Scoring } from './ports';

export interface AnalysisDeps {
  metrics: EndpointMetrics;
  scoring: Scoring;
  data: DataReader;
  endpointAccess(endpointName: string): Promise<{ scoringUri: string; key: string }>;
}

/** The reason is kept short: the judgement lands in durable history and the promotion's status (16 KB). */
const MAX_REASON = 600;

const NO_REQUESTS: DeploymentRequestCounts = { requests: 0, serverErrors: 0, clientErrors: 0 };

function countsOf(counts: Record<string, DeploymentRequestCounts>, deployment: string): DeploymentRequestCounts {
  const key = Object.keys(counts).find((name) => name.toLowerCase() === deployment.toLowerCase());
  return key ? (counts[key] as DeploymentRequestCounts) : NO_REQUESTS;
}

/** `size` distinct row indices out of `n` (partial Fisher–Yates), in a seeded order. */
export function sampleIndices(n: number, size: number, seed: number): number[] {
  const random = createRandom(seed);
  const indices = Array.from({ length: n }, (_, i) => i);
  const take = Math.min(size, n);
  for (let i = 0; i < take; i++) {
    const j = i + random.nextInt(n - i);
    [indices[i], indices[j]] = [indices[j] as number, indices[i] as number];
  }
  return indices.slice(0, take);
}

function parseWindow(from: string, to: string): { from: Date; to: Date } {
  const start = new Date(from);
  const end = new Date(to);
  if (Number.isNaN(start.getTime())) throw new Error(`judgeRolloutStep: from is not an ISO 8601 time: ${from}`);
  if (Number.isNaN(end.getTime())) throw new Error(`judgeRolloutStep: to is not an ISO 8601 time: ${to}`);
  if (end.getTime() <= start.getTime())
    throw new Error(`judgeRolloutStep: the window ends (${to}) before it starts (${from})`);
  return { from: start, to: end };
}

export async function judgeRolloutStep(
  deps: AnalysisDeps,
  input: JudgeRolloutStepInput,
): Promise<JudgeRolloutStepOutput> {
  const { analysis } = input;
  const mirror = input.phase === 'mirror';
  const window = parseWindow(input.from, input.to);
  const counts = mirror ? {} : await deps.metrics.requestCounts(input.endpointName, window.from, window.to);
  const champion = countsOf(counts, input.championDeployment);
  const challenger = countsOf(counts, input.challengerDeployment);
  const observations: StepObservations = {
    champion: { requests: champion.requests, serverErrors: champion.serverErrors, latenciesMs: [] },
    challenger: { requests: challenger.requests, serverErrors: challenger.serverErrors, latenciesMs: [] },
  };

  const replay = analysis.replay;
  if (mirror && !(replay && analysis.replaySampleSize > 0)) {
    // The policy refuses a judged mirror phase without replayed rows; a policy from before that rule lands here.
    return {
      verdict: 'Inconclusive',
      reason: 'mirror phase: nothing to judge it by without replayed rows (the challenger answers no live traffic)',
      metrics: [],
    };
  }
  if (replay && analysis.replaySampleSize > 0) {
    const [table, access] = await Promise.all([
      deps.data.readDataAsset(replay.dataAsset.name, replay.dataAsset.version),
      deps.endpointAccess(input.endpointName),
    ]);
    const keep = table.columns.map((column) => column !== replay.labelColumn);
    const columns = table.columns.filter((_, i) => keep[i]);
    const seed = seedFromString(`${input.modelName}|${input.challengerDeployment}|${input.from}|${input.to}`);
    const championLatencies: number[] = [];
    const challengerLatencies: number[] = [];
    const championAnswers: (number | string)[] = [];
    const challengerAnswers: (number | string)[] = [];
    const asked = (deployment: string) =>
      deployment === input.championDeployment ? observations.champion : observations.challenger;
    const ask = async (deployment: string, row: Cell[], latencies: number[]) => {
      try {
        const result = await deps.scoring.score({ ...access, columns, rows: [row], deployment });
        latencies.push(result.latencyMs);
        if (mirror) asked(deployment).requests++;
        return result.predictions[0];
      } catch (err) {
        // In a mirror phase the replay is the error rate's evidence: a 5xx (or no answer) is the deployment's
        // failure, a 4xx the request's, left out as Azure Monitor's 5xx count leaves it out.
        const status = (err as { status?: unknown }).status;
        if (mirror && !(typeof status === 'number' && status < 500)) {
          asked(deployment).requests++;
          asked(deployment).serverErrors++;
        }
        return undefined;
      }
    };
    const indices = sampleIndices(table.rows.length, analysis.replaySampleSize, seed);
    for (const [k, index] of indices.entries()) {
      const row = (table.rows[index] as Cell[]).filter((_, i) => keep[i]);
      let a: number | string | undefined;
      let b: number | string | undefined;
      if (k % 2 === 0) {
        a = await ask(input.championDeployment, row, championLatencies);
        b = await ask(input.challengerDeployment, row, challengerLatencies);
      } else {
        b = await ask(input.challengerDeployment, row, challengerLatencies);
        a = await ask(input.championDeployment, row, championLatencies);
      }
      if (a !== undefined && b !== undefined) {
        championAnswers.push(a);
        challengerAnswers.push(b);
      }
    }
    observations.champion.latenciesMs = championLatencies;
    observations.challenger.latenciesMs = challengerLatencies;
    observations.predictions =
      analysis.task === 'regression'
        ? { task: 'regression', champion: championAnswers.map(Number), challenger: challengerAnswers.map(Number) }
        : { task: 'classification', champion: championAnswers, challenger: challengerAnswers };
  }

  const judged = judgeStep(observations, {
    confidence: analysis.confidence,
    minRequests: mirror ? analysis.minSamples : analysis.minRequests,
    errorRateFailsOnly: mirror,
    minSamples: analysis.minSamples,
    metrics: analysis.metrics,
    bootstrapSamples: analysis.bootstrapSamples,
    seed: analysis.seed,
  });
  const judgement = mirror
    ? {
        ...judged,
        reason: `mirror phase, judged on replayed requests (no live traffic reaches the challenger): ${judged.reason}`,
      }
    : judged;
  const reason =
    judgement.reason.length > MAX_REASON ? `${judgement.reason.slice(0, MAX_REASON - 1)}…` : judgement.reason;
  return { ...judgement, reason };
}
