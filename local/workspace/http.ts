import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';

/** An error answered as an ARM error body: `{"error": {"code", "message", "target"?}}`. */
export class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly target?: string,
    readonly headers: Record<string, string> = {},
    /** ARM's `error.details`: the cause behind a generic code such as BadRequest. */
    readonly details: { code: string; message: string }[] = [],
  ) {
    super(message);
    this.name = 'ArmError';
  }

  body(): { error: { code: string; message: string; target?: string; details?: { code: string; message: string }[] } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.target ? { target: this.target } : {}),
        ...(this.details.length > 0 ? { details: this.details } : {}),
      },
    };
  }
}

export const notFound = (what: string): ArmError =>
  new ArmError(404, 'ResourceNotFound', `The resource '${what}' was not found.`);

export const userError = (message: string, target?: string): ArmError =>
  new ArmError(400, 'UserError', message, target);

export const MAX_BODY_BYTES = 16 * 1024 * 1024;

export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new ArmError(413, 'RequestEntityTooLarge', `The request body exceeds ${limit} bytes.`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Parses a JSON request body; an empty body is `undefined`. */
export function parseJson(buf: Buffer): unknown {
  if (buf.length === 0) return undefined;
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new ArmError(
      400,
      'InvalidRequestContent',
      `The request content was invalid and could not be deserialized: ${(err as Error).message}`,
    );
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string | number> = {},
): void {
  if (body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Validates `value` with a zod schema; the first issue becomes a 400 naming the offending field. */
export function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  opts: { code?: string; prefix?: string } = {},
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = [opts.prefix, ...issue.path.map(String)].filter(Boolean).join('.');
  const where = path ? `'${path}'` : 'the request body';
  throw new ArmError(400, opts.code ?? 'UserError', `Invalid value for ${where}: ${issue.message}`, path || undefined);
}

/** `*` matches any run of characters; the pattern may match anywhere in the text (case-insensitive). */
export function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(escaped, 'i');
}
