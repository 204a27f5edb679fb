import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { globToRegExp } from './http';

const name = z.string().min(1);

export const armFaultSchema = z.strictObject({
  kind: z.literal('arm'),
  /** HTTP method, or WRITE (PUT/PATCH/POST/DELETE), or * (any). Default WRITE. */
  method: z
    .string()
    .transform((m) => m.toUpperCase())
    .pipe(z.enum(['GET', 'PUT', 'PATCH', 'POST', 'DELETE', 'WRITE', '*']))
    .optional(),
  /** Glob (`*` = anything) matched anywhere in the request path, case-insensitively. */
  path: z.string().min(1),
  status: z.number().int().min(400).max(599),
  /** How many matching requests fail; default 1. */
  count: z.number().int().min(1).optional(),
  /** Retry-After on the failure; sent on 429/503 (default 1) and whenever given. */
  retryAfterSeconds: z.number().int().min(0).optional(),
  code: z.string().min(1).optional(),
  message: z.string().min(1).optional(),
});

export const provisioningFaultSchema = z.strictObject({
  kind: z.literal('provisioning'),
  /** Which resource's provisioning fails; default deployment. */
  target: z.enum(['deployment', 'endpoint']).optional(),
  endpoint: name.optional(),
  deployment: name.optional(),
  /** Azure error code, e.g. OutOfQuota, ResourceNotReady, ImageBuildFailure, BadArgument. */
  code: z.string().min(1),
  message: z.string().min(1).optional(),
  count: z.number().int().min(1).optional(),
});

export const scoringFaultSchema = z
  .strictObject({
    kind: z.literal('scoring'),
    endpoint: name.optional(),
    deployment: name.optional(),
    /** Model name or name:version served by the deployment. */
    model: name.optional(),
    /** Share of requests that fail, spread evenly (deterministic); default 1 when `status` is set. */
    errorRate: z.number().min(0).max(1).optional(),
    /** Status of the failing responses; default 500. */
    status: z.number().int().min(400).max(599).optional(),
    /** Added latency per request. */
    latencyMs: z.number().int().min(0).max(120_000).optional(),
    /** `Retry-After` (seconds) sent with the failing responses. */
    retryAfterSeconds: z.number().int().min(0).max(3600).optional(),
    count: z.number().int().min(1).optional(),
  })
  .refine((f) => f.errorRate !== undefined || f.status !== undefined || f.latencyMs !== undefined, {
    message: 'a scoring fault needs errorRate, status or latencyMs',
    path: ['errorRate'],
  });

export const faultSchema = z.discriminatedUnion('kind', [armFaultSchema, provisioningFaultSchema, scoringFaultSchema]);

export type ArmFault = z.infer<typeof armFaultSchema>;
export type ProvisioningFault = z.infer<typeof provisioningFaultSchema>;
export type ScoringFault = z.infer<typeof scoringFaultSchema>;
export type FaultSpec = z.input<typeof faultSchema>;
export type Fault = z.infer<typeof faultSchema> & { id: string; hits: number };

/** Messages in the shape Azure gives for common provisioning failures. */
export const PROVISIONING_MESSAGES: Record<string, string> = {
  OutOfQuota:
    'Not enough quota available for Standard_DS3_v2 in SubscriptionId {sub}. Current usage/limit: 4/6. Additional needed: 4. Please see troubleshooting guide, available here: https://aka.ms/oe-tsg#error-outofquota',
  ResourceNotReady:
    'User container has crashed or terminated: Liveness probe failed: HTTP probe failed with statuscode: 502. Please see troubleshooting guide, available here: https://aka.ms/oe-tsg#error-resourcenotready',
  ImageBuildFailure:
    'The image build for the environment failed. Please see troubleshooting guide, available here: https://aka.ms/oe-tsg#error-imagebuildfailure',
  BadArgument:
    'The request is invalid. Please see troubleshooting guide, available here: https://aka.ms/oe-tsg#error-badargument',
  ResourceNotFound:
    'A resource referenced by the deployment could not be found. Please see troubleshooting guide, available here: https://aka.ms/oe-tsg#error-resourcenotfound',
  OperationCanceled:
    'The operation was canceled because a newer operation was started. Please see troubleshooting guide, available here: https://aka.ms/oe-tsg#error-operationcanceled',
  InternalServerError: 'An internal server error occurred while provisioning the deployment.',
};

/** Fault injection: nothing is injected unless configured (options or admin route). Held in memory. */
export class Faults {
  private list: Fault[] = [];
  private readonly scoringAcc = new Map<string, number>();
  onChange: () => void = () => {};

  add(spec: FaultSpec): Fault {
    const parsed = faultSchema.parse(spec);
    const fault = { ...parsed, id: randomUUID(), hits: 0 } as Fault;
    this.list.push(fault);
    this.onChange();
    return fault;
  }

  all(): Fault[] {
    return this.list.map((f) => ({ ...f }));
  }

  remove(id: string): boolean {
    const before = this.list.length;
    this.list = this.list.filter((f) => f.id !== id);
    this.scoringAcc.delete(id);
    this.onChange();
    return this.list.length < before;
  }

  clear(): void {
    this.list = [];
    this.scoringAcc.clear();
    this.onChange();
  }

  private consume(f: Fault): void {
    f.hits++;
    // ARM faults are "the next N requests" (default 1); the others last until removed unless a count is given.
    const limit = f.kind === 'arm' ? (f.count ?? 1) : f.count;
    if (limit !== undefined && f.hits >= limit) {
      this.list = this.list.filter((x) => x !== f);
      this.scoringAcc.delete(f.id);
      this.onChange();
    }
  }

  /** The ARM fault for this request, consumed. */
  takeArm(method: string, path: string): ArmFault | undefined {
    const m = method.toUpperCase();
    const f = this.list.find((x): x is Fault & ArmFault => {
      if (x.kind !== 'arm') return false;
      const want = x.method ?? 'WRITE';
      const methodOk = want === '*' || want === m || (want === 'WRITE' && m !== 'GET' && m !== 'HEAD');
      return methodOk && globToRegExp(x.path).test(path);
    });
    if (f) this.consume(f);
    return f;
  }

  /** The provisioning failure planned for this deployment/endpoint, consumed. */
  takeProvisioning(
    target: 'deployment' | 'endpoint',
    endpoint: string,
    deployment?: string,
  ): { code: string; message: string } | undefined {
    const eq = (a: string | undefined, b: string | undefined): boolean =>
      a === undefined || a === '*' || a.toLowerCase() === b?.toLowerCase();
    const f = this.list.find(
      (x): x is Fault & ProvisioningFault =>
        x.kind === 'provisioning' &&
        (x.target ?? 'deployment') === target &&
        eq(x.endpoint, endpoint) &&
        (target === 'endpoint' || eq(x.deployment, deployment)),
    );
    if (!f) return undefined;
    this.consume(f);
    return { code: f.code, message: f.message ?? PROVISIONING_MESSAGES[f.code] ?? `Provisioning failed: ${f.code}.` };
  }

  /** Scoring faults that apply to a deployment (looked up when routing tables are rebuilt). */
  scoringFor(endpoint: string, deployment: string, model: string | undefined): (Fault & ScoringFault)[] {
    const eq = (a: string | undefined, b: string | undefined): boolean =>
      a === undefined || a === '*' || a.toLowerCase() === b?.toLowerCase();
    const modelOk = (want: string | undefined): boolean => {
      if (want === undefined) return true;
      if (!model) return false;
      return want.includes(':') ? want.toLowerCase() === model.toLowerCase() : eq(want, model.split(':')[0]);
    };
    return this.list.filter(
      (x): x is Fault & ScoringFault =>
        x.kind === 'scoring' && eq(x.endpoint, endpoint) && eq(x.deployment, deployment) && modelOk(x.model),
    );
  }

  /** Applies one request's worth of a scoring fault: whether it errors (deterministically spread), and latency. */
  applyScoring(f: Fault & ScoringFault): { status?: number; latencyMs?: number; retryAfterSeconds?: number } {
    const rate = f.errorRate ?? (f.status !== undefined ? 1 : 0);
    let status: number | undefined;
    if (rate > 0) {
      const acc = (this.scoringAcc.get(f.id) ?? 0) + rate;
      if (acc >= 1 - 1e-9) {
        status = f.status ?? 500;
        this.scoringAcc.set(f.id, acc - 1);
      } else this.scoringAcc.set(f.id, acc);
    }
    if (f.count !== undefined) this.consume(f);
    return {
      status,
      latencyMs: f.latencyMs,
      ...(status !== undefined ? { retryAfterSeconds: f.retryAfterSeconds } : {}),
    };
  }
}
