/**
 * HTTP route templates as the Functions host (ASP.NET routing) reads them: literal segments, `{name}`,
 * `{name?}`, `{name:constraint}`, `{*rest}`. When several templates match, literal segments win over parameters,
 * constrained parameters over plain ones, and catch-alls lose to everything.
 */

type Segment =
  | { kind: 'literal'; text: string }
  | { kind: 'param'; name: string; optional: boolean; constraint?: Constraint }
  | { kind: 'catchAll'; name: string };

type Constraint = (value: string) => boolean;

const constraints: Record<string, Constraint> = {
  int: (v) => /^-?\d+$/.test(v) && Math.abs(Number(v)) <= 2 ** 31,
  long: (v) => /^-?\d+$/.test(v),
  bool: (v) => /^(true|false)$/i.test(v),
  alpha: (v) => /^[a-z]+$/i.test(v),
  guid: (v) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v),
  float: (v) => v.trim() !== '' && Number.isFinite(Number(v)),
  double: (v) => v.trim() !== '' && Number.isFinite(Number(v)),
  decimal: (v) => v.trim() !== '' && Number.isFinite(Number(v)),
};

export interface CompiledRoute<T> {
  template: string;
  segments: Segment[];
  methods: Set<string> | undefined;
  target: T;
}

export function compileRoute<T>(template: string, methods: string[] | undefined, target: T): CompiledRoute<T> {
  const parts = template.split('/').filter((p) => p !== '');
  const segments = parts.map((part, index): Segment => {
    const match = /^\{(\*?)([A-Za-z_][\w]*)(\?)?(?::([a-z]+))?\}$/.exec(part);
    if (!match) {
      if (/[{}]/.test(part)) throw new Error(`Route "${template}": segment "${part}" is not a valid parameter.`);
      return { kind: 'literal', text: part.toLowerCase() };
    }
    const [, star, name = '', optional, constraintName] = match;
    if (star) {
      if (index !== parts.length - 1) throw new Error(`Route "${template}": a catch-all must be the last segment.`);
      return { kind: 'catchAll', name };
    }
    let constraint: Constraint | undefined;
    if (constraintName) {
      constraint = constraints[constraintName];
      if (!constraint) throw new Error(`Route "${template}": unknown constraint "${constraintName}".`);
    }
    return { kind: 'param', name, optional: optional === '?', constraint };
  });
  return { template, segments, methods: methods ? new Set(methods.map((m) => m.toUpperCase())) : undefined, target };
}

/** Lower ranks win: literal 0, constrained parameter 1, parameter 2, optional 3, catch-all 4. */
function rank(segment: Segment): number {
  if (segment.kind === 'literal') return 0;
  if (segment.kind === 'catchAll') return 4;
  if (segment.optional) return 3;
  return segment.constraint ? 1 : 2;
}

function compareRoutes(a: CompiledRoute<unknown>, b: CompiledRoute<unknown>): number {
  const n = Math.max(a.segments.length, b.segments.length);
  for (let i = 0; i < n; i++) {
    const sa = a.segments[i];
    const sb = b.segments[i];
    if (!sa || !sb) return sa ? -1 : 1;
    const diff = rank(sa) - rank(sb);
    if (diff !== 0) return diff;
  }
  return 0;
}

function matchSegments(segments: Segment[], parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  let i = 0;
  for (const segment of segments) {
    const part = parts[i];
    if (segment.kind === 'catchAll') {
      params[segment.name] = parts.slice(i).join('/');
      return params;
    }
    if (part === undefined) {
      if (segment.kind === 'param' && segment.optional) continue;
      return undefined;
    }
    if (segment.kind === 'literal') {
      if (part.toLowerCase() !== segment.text) return undefined;
    } else {
      if (segment.constraint && !segment.constraint(part)) return undefined;
      params[segment.name] = part;
    }
    i++;
  }
  return i === parts.length ? params : undefined;
}

/** The non-empty segments of a URL path, decoded; undefined when one has a malformed %-escape. */
export function decodePathSegments(path: string): string[] | undefined {
  try {
    return path
      .split('/')
      .filter((p) => p !== '')
      .map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

export type RouteMatch<T> =
  | { kind: 'match'; route: CompiledRoute<T>; params: Record<string, string> }
  | { kind: 'method-not-allowed' }
  | { kind: 'none' };

export class RouteTable<T> {
  #routes: CompiledRoute<T>[] = [];

  add(template: string, methods: string[] | undefined, target: T): void {
    this.#routes.push(compileRoute(template, methods, target));
    this.#routes.sort(compareRoutes);
  }

  /** `path` is relative to the route prefix, without a query string. */
  match(method: string, path: string): RouteMatch<T> {
    const parts = decodePathSegments(path);
    if (!parts) return { kind: 'none' };
    let methodMismatch = false;
    for (const route of this.#routes) {
      const params = matchSegments(route.segments, parts);
      if (!params) continue;
      if (route.methods && !route.methods.has(method.toUpperCase())) {
        methodMismatch = true;
        continue;
      }
      return { kind: 'match', route, params };
    }
    return methodMismatch ? { kind: 'method-not-allowed' } : { kind: 'none' };
  }

  get routes(): readonly CompiledRoute<T>[] {
    return this.#routes;
  }
}
