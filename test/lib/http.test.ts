/** Reading request bodies at the edge: size limits before reading, and bounded fields. */
import { HttpRequest } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { FIELD_LIMITS, MAX_BODY_BYTES, readJsonObject } from '../../lib/http';

const request = (body: string, headers: Record<string, string> = {}) =>
  new HttpRequest({ method: 'POST', url: 'http://localhost/api/x', body: { string: body }, headers });

const refusal = async (req: HttpRequest) => {
  const read = await readJsonObject(req);
  if (read.ok) throw new Error('expected a refusal');
  return { status: read.response.status, error: (read.response.jsonBody as { error: string }).error };
};

describe('readJsonObject', () => {
  it('refuses a declared length over the limit without reading the body', async () => {
    const req = request('{}', { 'content-length': String(90 * 1024 * 1024) });
    expect(await refusal(req)).toEqual({
      status: 413,
      error: `The body is larger than ${MAX_BODY_BYTES} bytes, the most this API reads.`,
    });
    // Nothing was read: the body is still there to read.
    expect(req.bodyUsed).toBe(false);
  });

  it('stops reading a body without a declared length once it passes the limit', async () => {
    const big = JSON.stringify({ comment: 'x'.repeat(MAX_BODY_BYTES) });
    expect((await refusal(request(big))).status).toBe(413);
  });

  it.each(Object.entries(FIELD_LIMITS))('refuses %s longer than %i characters, naming it', async (field, max) => {
    expect(await refusal(request(JSON.stringify({ [field]: 'a'.repeat(max + 1) })))).toEqual({
      status: 400,
      error: `${field}: at most ${max} characters.`,
    });
  });

  it('takes fields at their limits, an empty body, and refuses what is not a JSON object', async () => {
    const atLimit = { approver: 'a'.repeat(FIELD_LIMITS.approver!), comment: 'c'.repeat(FIELD_LIMITS.comment!) };
    expect(await readJsonObject(request(JSON.stringify(atLimit)))).toEqual({ ok: true, body: atLimit });
    expect(await readJsonObject(request(''))).toEqual({ ok: true, body: {} });
    expect(await refusal(request('[1]'))).toEqual({ status: 400, error: 'The body must be a JSON object.' });
    expect(await refusal(request('{"a":'))).toEqual({ status: 400, error: 'The body is not valid JSON.' });
  });
});
