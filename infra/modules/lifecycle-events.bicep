// Event Grid custom topic for Champion's lifecycle events (lib/adapters/lifecycle.ts): every step of a promotion or
// a retraining is published as a CloudEvent 1.0 with a deterministic id (the instance and the step). Local (key and
// SAS) auth is off: the app publishes with its managed identity, so no key exists to leak. Subscribers (a Logic App,
// a Function, a webhook) are added by whoever consumes the events, filtered by type or subject prefix
// (`models/{model}`).
@description('Region of the topic.')
param location string

@description('Tags for every resource.')
param tags object

@description('Event Grid custom topic name (unique in the region).')
param topicName string

@description('Principal of the app\'s user-assigned identity, which publishes to the topic.')
param principalId string

// EventGrid Data Sender: EventGridSink publishes through EventGridPublisherClient with the app's credential.
var eventGridDataSender = 'd5a91429-5739-47e2-a06b-3470a27159e7'

resource topic 'Microsoft.EventGrid/topics@2022-06-15' = {
  name: topicName
  location: location
  tags: tags
  properties: {
    // The schema EventGridPublisherClient(endpoint, 'CloudEvent', …) sends.
    inputSchema: 'CloudEventSchemaV1_0'
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

resource sender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(topic.id, principalId, eventGridDataSender)
  scope: topic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', eventGridDataSender)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

@description('The topic endpoint (https://{topic}.{region}-1.eventgrid.azure.net/api/events), as CHAMPION_EVENTGRID_ENDPOINT wants it.')
output endpoint string = topic.properties.endpoint
@description('The topic name.')
output name string = topic.name
