/**
 * Raw ARM requests through a management client's pipeline (its identity, ARM endpoint and retries), for what its typed
 * client lacks or drops (newer api-versions, registries), and their answers read as ARM writes them.
 */
import {
  createHttpHeaders,
  createPipelineRequest,
  type PipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';

/** A JSON request to `url` (with its api-version), for the client pipeline's `sendRequest`. */
export function armRequest(method: 'GET' | 'PUT' | 'POST', url: string, body?: unknown): PipelineRequest {
  return createPipelineRequest({
    url,
    method,
    headers: createHttpHeaders({ 'content-type': 'application/json' }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** The `error` of an ARM error answer, when its body is JSON. */
export function armErrorOf(response: PipelineResponse): { code?: string; message?: string } | undefined {
  try {
    return (JSON.parse(response.bodyAsText ?? '{}') as { error?: { code?: string; message?: string } }).error;
  } catch {
    return undefined;
  }
}

/** The body of a successful answer; an error answer throws with its status, ARM code and message. */
export function armJson(response: PipelineResponse): unknown {
  if (response.status >= 400) {
    const error = armErrorOf(response);
    const err = new Error(
      `${response.request.method} ${response.request.url} failed: ${response.status} ${error?.code ?? ''} ${error?.message ?? ''}`.trim(),
    ) as Error & { statusCode: number; code?: string; response: PipelineResponse };
    err.statusCode = response.status;
    err.code = error?.code;
    err.response = response;
    throw err;
  }
  return response.bodyAsText ? (JSON.parse(response.bodyAsText) as unknown) : {};
}
