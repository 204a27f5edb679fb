/** Small helpers the HTTP triggers share: JSON replies, `{error}` problems, and reading a JSON object body. */
import type { HttpRequest, HttpResponseInit } from '@azure/functions';

export const json = (status: number, body: unknown): HttpResponseInit => ({ status, jsonBody: body });

export const problem = (status: number, message: string): HttpResponseInit => json(status, { error: message });

/** A non-empty trimmed string, or undefined. */
export const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value.trim() ? value.trim() : undefined;

/** The body as a JSON object ({} when empty), or the 400 to answer. */
export async function readJsonObject(
  request: HttpRequest,
): Promise<{ ok: true; body: Record<string, unknown> } | { ok: false; response: HttpResponseInit }> {
  const raw = await request.text();
  if (!raw.trim()) return { ok: true, body: {} };
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return { ok: false, response: problem(400, 'The body is not valid JSON.') };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, response: problem(400, 'The body must be a JSON object.') };
  }
  return { ok: true, body: body as Record<string, unknown> };
}
