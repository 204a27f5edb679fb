/**
 * The Event Grid trigger's webhook, answering as the Functions host does:
 * `POST /runtime/webhooks/eventgrid?functionName=X` with header `aeg-event-type`.
 *   SubscriptionValidation → 200 {validationResponse} without invoking the function;
 *   Notification → one invocation per event, 202, or 500 when any invocation failed (Event Grid retries the batch);
 *   Unsubscribe → 202; missing header → 400; unknown function → 404; body that is not JSON → 400.
 * CloudEvents deliveries validate with an OPTIONS handshake (WebHook-Request-Origin) and may be a single event.
 */

export interface WebhookRequest {
  method: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface WebhookResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface EventGridTarget {
  /** True when a function of that name exists and has an Event Grid trigger. */
  exists(functionName: string): boolean;
  invoke(functionName: string, event: Record<string, unknown>): Promise<void>;
}

function header(req: WebhookRequest, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

export async function handleEventGridWebhook(req: WebhookRequest, target: EventGridTarget): Promise<WebhookResponse> {
  const functionName = req.query.get('functionName');
  if (!functionName) return { status: 400, body: { error: 'The query parameter "functionName" is required.' } };
  if (!target.exists(functionName)) {
    return { status: 404, body: { error: `No Event Grid function named "${functionName}".` } };
  }

  if (req.method === 'OPTIONS') {
    const origin = header(req, 'webhook-request-origin');
    if (!origin) return { status: 400, body: { error: 'OPTIONS needs the WebHook-Request-Origin header.' } };
    return { status: 200, headers: { 'webhook-allowed-origin': origin, 'webhook-allowed-rate': '*' } };
  }
  if (req.method !== 'POST') return { status: 405, body: { error: 'Use POST.' } };

  const eventType = header(req, 'aeg-event-type');
  if (!eventType) return { status: 400, body: { error: 'The aeg-event-type header is required.' } };

  let parsed: unknown;
  try {
    parsed = JSON.parse(req.body);
  } catch {
    return { status: 400, body: { error: 'The request body is not valid JSON.' } };
  }
  const events = (Array.isArray(parsed) ? parsed : [parsed]) as unknown[];
  if (events.some((e) => typeof e !== 'object' || e === null || Array.isArray(e))) {
    return { status: 400, body: { error: 'Every event must be a JSON object.' } };
  }
  const objects = events as Record<string, unknown>[];

  switch (eventType) {
    case 'SubscriptionValidation': {
      const data = objects[0]?.data as { validationCode?: unknown } | undefined;
      if (typeof data?.validationCode !== 'string') {
        return { status: 400, body: { error: 'data.validationCode is missing from the validation event.' } };
      }
      return { status: 200, body: { validationResponse: data.validationCode } };
    }
    case 'Notification': {
      const results = await Promise.allSettled(objects.map((event) => target.invoke(functionName, event)));
      const failed = results.filter((r) => r.status === 'rejected').length;
      return failed > 0
        ? { status: 500, body: { error: `${failed} of ${objects.length} event(s) failed; Event Grid will retry.` } }
        : { status: 202 };
    }
    case 'Unsubscribe':
      return { status: 202 };
    default:
      return { status: 400, body: { error: `Unknown aeg-event-type "${eventType}".` } };
  }
}
