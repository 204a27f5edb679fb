import { describe, expect, it } from 'vitest';
import { arrayElementTexts, handleEventGridWebhook, type WebhookRequest } from '../../local/runtime/event-grid';

function target(fail: (e: Record<string, unknown>) => boolean = () => false) {
  const invoked: Record<string, unknown>[] = [];
  return {
    invoked,
    exists: (name: string) => name === 'onModelRegistered',
    invoke: async (_name: string, event: Record<string, unknown>) => {
      invoked.push(event);
      if (fail(event)) throw new Error('handler failed');
    },
  };
}

function request(over: Partial<WebhookRequest> & { type?: string }): WebhookRequest {
  return {
    method: 'POST',
    query: new URLSearchParams({ functionName: 'onModelRegistered' }),
    headers: over.type ? { 'aeg-event-type': over.type } : {},
    body: '[]',
    ...over,
  };
}

const event = (id: string, subject = 's') => ({
  id,
  subject,
  eventType: 'X',
  data: {},
  eventTime: '2026-01-01T00:00:00Z',
});

describe('Event Grid webhook', () => {
  it('answers the subscription handshake without invoking the function', async () => {
    const t = target();
    const body = JSON.stringify([
      { eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent', data: { validationCode: 'abc' } },
    ]);
    const reply = await handleEventGridWebhook(request({ type: 'SubscriptionValidation', body }), t);
    expect(reply).toMatchObject({ status: 200, body: { validationResponse: 'abc' } });
    expect(t.invoked).toHaveLength(0);
  });

  it('invokes once per event and answers 202', async () => {
    const t = target();
    const reply = await handleEventGridWebhook(
      request({ type: 'Notification', body: JSON.stringify([event('1'), event('2')]) }),
      t,
    );
    expect(reply.status).toBe(202);
    expect(t.invoked.map((e) => e.id)).toEqual(['1', '2']);
  });

  it('accepts a single CloudEvent and answers the CloudEvents OPTIONS handshake', async () => {
    const t = target();
    const cloudEvent = { specversion: '1.0', id: 'c1', source: '/x', type: 'X', data: {} };
    expect(
      (await handleEventGridWebhook(request({ type: 'Notification', body: JSON.stringify(cloudEvent) }), t)).status,
    ).toBe(202);
    expect(t.invoked).toEqual([cloudEvent]);
    const options = await handleEventGridWebhook(
      request({ method: 'OPTIONS', headers: { 'webhook-request-origin': 'eventgrid.azure.net' } }),
      t,
    );
    expect(options).toMatchObject({ status: 200, headers: { 'webhook-allowed-origin': 'eventgrid.azure.net' } });
  });

  it('answers 500 when any event fails, after trying every event', async () => {
    const t = target((e) => e.subject === 'bad');
    const body = JSON.stringify([event('1', 'bad'), event('2')]);
    const reply = await handleEventGridWebhook(request({ type: 'Notification', body }), t);
    expect(reply.status).toBe(500);
    expect(t.invoked).toHaveLength(2);
  });

  it.each([
    ['missing aeg-event-type', request({ body: JSON.stringify([event('1')]) }), 400],
    ['unknown function', request({ type: 'Notification', query: new URLSearchParams({ functionName: 'nope' }) }), 404],
    ['no functionName', request({ type: 'Notification', query: new URLSearchParams() }), 400],
    ['malformed JSON', request({ type: 'Notification', body: '[{"id":' }), 400],
    ['a non-object event', request({ type: 'Notification', body: '[1]' }), 400],
    ['an unknown event type header', request({ type: 'Bogus' }), 400],
    ['Unsubscribe', request({ type: 'Unsubscribe' }), 202],
  ])('%s', async (_name, req, status) => {
    const t = target();
    expect((await handleEventGridWebhook(req, t)).status).toBe(status);
    expect(t.invoked).toHaveLength(0);
  });
});

describe('arrayElementTexts', () => {
  it('hands each event on as the delivery spelled it, strings with brackets and escapes included', () => {
    const events = [
      { id: 'a', data: { s: 'x}]"\\{[' } },
      { id: 'b', data: { n: [1, { m: [] }] } },
    ];
    const body = ` [ ${JSON.stringify(events[0])} ,\n${JSON.stringify(events[1], null, 2)} ] `;
    const texts = arrayElementTexts(body);
    expect(texts.map((t) => JSON.parse(t) as unknown)).toEqual(events);
    expect(texts[1]).toBe(JSON.stringify(events[1], null, 2));
  });

  it('splits events nested far deeper than JSON.stringify could serialise again', () => {
    const deep = `{"id":"deep","data":${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}}`;
    const texts = arrayElementTexts(`[${deep},{"id":"next"}]`);
    expect(texts).toEqual([deep, '{"id":"next"}']);
  });
});
