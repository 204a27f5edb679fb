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
  /** `json` is the event's own text from the delivery, handed on as it came (never serialised again). */
  invoke(functionName: string, event: Record<string, unknown>, json: string): Promise<void>;
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
      const texts = Array.isArray(parsed) ? arrayElementTexts(req.body) : [req.body];
      const results = await Promise.allSettled(
        objects.map((event, i) => target.invoke(functionName, event, texts[i] as string)),
      );
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

/**
 * The text of each element of a JSON array of objects that has already parsed, so each event reaches the function
 * exactly as sent: serialising it again could fail on data nested deeper than the call stack allows.
 */
export function arrayElementTexts(json: string): string[] {
  const texts: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === '{' || c === '[') {
      if (depth === 1) start = i;
      depth++;
    } else if (c === '}' || c === ']') {
      depth--;
      if (depth === 1) texts.push(json.slice(start, i + 1));
    }
  }
  return texts;
}
