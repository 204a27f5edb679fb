/** Small helpers the HTTP triggers share: JSON replies, `{error}` problems, and reading a JSON object body. */
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { MAX_COMMENT_LENGTH } from './approval';

export const json = (status: number, body: unknown): HttpResponseInit => ({ status, jsonBody: body });

export const problem = (status: number, message: string): HttpResponseInit => json(status, { error: message });

/** A non-empty trimmed string, or undefined. */
export const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value.trim() ? value.trim() : undefined;

/** The API's bodies are a few hundred bytes; anything past this is refused before it is read. */
export const MAX_BODY_BYTES = 64 * 1024;

const IDENTITY_LENGTH = 256;

/**
 * The longest text each body field may carry. These fields reach an orchestration's input or status, which Durable
 * keeps small (custom status about 16 KB on Azure Storage), so they are refused past these lengths, not cut.
 */
export const FIELD_LIMITS: Readonly<Record<string, number>> = {
  approver: IDENTITY_LENGTH,
  requestedBy: IDENTITY_LENGTH,
  comment: MAX_COMMENT_LENGTH,
  reason: MAX_COMMENT_LENGTH,
  decision: 16,
  via: 16,
  modelName: 255,
  modelVersion: 100,
  token: 4096,
};

type BodyRead = { ok: true; body: Record<string, unknown> } | { ok: false; response: HttpResponseInit };

const tooLarge = (limit: number): BodyRead => ({
  ok: false,
  response: problem(413, `The body is larger than ${limit} bytes, the most this API reads.`),
});

/**
 * The body as a JSON object ({} when empty), or the 4xx to answer. A declared Content-Length over the limit is
 * refused before any of the body is read; a body without one (chunked) is read only up to the limit.
 */
export async function readJsonObject(request: HttpRequest, limit: number = MAX_BODY_BYTES): Promise<BodyRead> {
  const declared = Number(request.headers.get('content-length') ?? 0);
  if (declared > limit) return tooLarge(limit);
  const raw = await readText(request, limit);
  if (raw === undefined) return tooLarge(limit);
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
  for (const [field, max] of Object.entries(FIELD_LIMITS)) {
    const value = (body as Record<string, unknown>)[field];
    if (typeof value === 'string' && value.length > max) {
      return { ok: false, response: problem(400, `${field}: at most ${max} characters.`) };
    }
  }
  return { ok: true, body: body as Record<string, unknown> };
}

/** The body as text, or undefined once it passes `limit` bytes (the rest is never read). */
export async function readText(request: HttpRequest, limit: number): Promise<string | undefined> {
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const chunk = value as Uint8Array;
    size += chunk.byteLength;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
