/**
 * Event Grid triggers. Deliveries are at least once: every handler is idempotent, and an event Champion cannot
 * act on is acknowledged and logged rather than failed (a failure would make Event Grid retry it for a day).
 */
import * as df from 'durable-functions';
import { getApp } from '../lib/app';
import { EventValidationError, foreignRegistration, parseEvent } from '../lib/domain/events';
import { startPromotion } from '../lib/promotions';

df.app.client.eventGrid('onModelRegistered', {
  handler: async (event, client, context) => {
    let command;
    try {
      command = parseEvent(event);
    } catch (err) {
      if (err instanceof EventValidationError) {
        context.warn(`Ignoring an invalid event ${String((event as { id?: unknown }).id)}: ${err.message}`);
        return;
      }
      throw err;
    }
    if (command.kind !== 'model-registered') {
      context.log(`Ignoring ${event.eventType}: not a model registration.`);
      return;
    }
    const { policies, deps, workspaceId } = getApp();
    // Only registrations in the app's own workspace start promotions: a copy registered in a later environment is not one.
    const foreign = foreignRegistration(command, workspaceId);
    if (foreign) {
      context.log(`Ignoring ${command.modelName}:${command.modelVersion} (event ${command.eventId}): ${foreign}.`);
      return;
    }
    const outcome = await startPromotion(client, policies, deps.workspace, {
      modelName: command.modelName,
      modelVersion: command.modelVersion,
      source: 'event',
      registeredAt: command.eventTime,
    });
    if (outcome.kind === 'not-found') context.log(`${outcome.message} Event ${command.eventId} acknowledged.`);
    else if (outcome.kind === 'exists' || outcome.kind === 'in-production') context.log(outcome.message);
    else context.log(`Started promotion ${outcome.id}.`);
  },
});
