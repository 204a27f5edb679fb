import { describe, expect, it } from 'vitest';
import { RouteTable, compileRoute, decodePathSegments } from '../../local/runtime/routes';

function table(...templates: [string, string[]?][]): RouteTable<string> {
  const t = new RouteTable<string>();
  for (const [template, methods] of templates) t.add(template, methods, template);
  return t;
}

describe('route table', () => {
  const routes = table(
    ['approvals/{id}/approve', ['POST']],
    ['approvals/{model}/{version}', ['POST', 'GET']],
    ['models/{name}/versions/{version:int}'],
    ['models/{name}/versions/{label}'],
    ['files/{*rest}'],
    ['items/{id?}'],
    ['health'],
  );

  it.each([
    ['POST', '/approvals/42/approve', 'approvals/{id}/approve', { id: '42' }],
    ['POST', '/approvals/churn/7', 'approvals/{model}/{version}', { model: 'churn', version: '7' }],
    ['GET', '/approvals/churn/approve', 'approvals/{model}/{version}', { model: 'churn', version: 'approve' }],
    ['GET', '/models/churn/versions/3', 'models/{name}/versions/{version:int}', { name: 'churn', version: '3' }],
    ['GET', '/models/churn/versions/latest', 'models/{name}/versions/{label}', { name: 'churn', label: 'latest' }],
    ['GET', '/files/a/b/c.txt', 'files/{*rest}', { rest: 'a/b/c.txt' }],
    ['GET', '/files', 'files/{*rest}', { rest: '' }],
    ['GET', '/items', 'items/{id?}', {}],
    ['GET', '/items/9', 'items/{id?}', { id: '9' }],
    ['GET', '/HEALTH', 'health', {}],
    ['GET', '/models/a%20b/versions/x', 'models/{name}/versions/{label}', { name: 'a b', label: 'x' }],
  ])('%s %s → %s', (method, path, template, params) => {
    const match = routes.match(method, path);
    expect(match.kind).toBe('match');
    if (match.kind === 'match') {
      expect(match.route.target).toBe(template);
      expect(match.params).toEqual(params);
    }
  });

  it('literal segments win whatever the registration order', () => {
    const reversed = table(['approvals/{model}/{version}'], ['approvals/{id}/approve']);
    const match = reversed.match('POST', '/approvals/1/approve');
    expect(match.kind === 'match' && match.route.target).toBe('approvals/{id}/approve');
  });

  it('tells a wrong method from a missing route', () => {
    expect(routes.match('DELETE', '/approvals/1/approve').kind).toBe('method-not-allowed');
    expect(routes.match('GET', '/nothing/here').kind).toBe('none');
    expect(routes.match('GET', '/items/1/2').kind).toBe('none');
  });

  it('rejects malformed templates with the template in the message', () => {
    expect(() => compileRoute('a/{*rest}/b', undefined, 1)).toThrow(/a\/\{\*rest\}\/b.*last segment/);
    expect(() => compileRoute('a/{id:nope}', undefined, 1)).toThrow(/unknown constraint "nope"/);
    expect(() => compileRoute('a/{id', undefined, 1)).toThrow(/not a valid parameter/);
  });
});

describe('decodePathSegments', () => {
  it('decodes each segment, and refuses a malformed %-escape instead of throwing', () => {
    expect(decodePathSegments('/api/promotions/promote%3Ademand%3A1/')).toEqual([
      'api',
      'promotions',
      'promote:demand:1',
    ]);
    expect(decodePathSegments('/api/promotions/%E0%A4%A')).toBeUndefined();
    expect(decodePathSegments('/api/%')).toBeUndefined();
  });
});
