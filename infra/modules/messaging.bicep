// Service Bus for notifications: approval requests, one message per approver (lib/adapters/notifier.ts), and
// lifecycle events, one message per step (lib/adapters/lifecycle.ts), each on its own topic so a subscriber of steps
// never sees approval links. Both senders set a stable messageId (promotion and approver; instance and step) and rely
// on the topics' duplicate detection to drop the resend of a re-executed activity. Local (SAS) auth is off: the app
// sends with its managed identity.
@description('Region of the namespace.')
param location string

@description('Tags for every resource.')
param tags object

@description('Service Bus namespace name (globally unique).')
param namespaceName string

@description('Topic that carries approval requests.')
param topicName string

@description('Topic that carries lifecycle events (every step of a promotion or a retraining).')
param lifecycleTopicName string

@description('Principal of the app\'s user-assigned identity, which sends to both topics.')
param principalId string

// Azure Service Bus Data Sender: ServiceBusNotifier.approvalRequested and ServiceBusSink.send send messages.
var serviceBusDataSender = '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'

resource namespace 'Microsoft.ServiceBus/namespaces@2021-11-01' = {
  name: namespaceName
  location: location
  tags: tags
  // Topics need Standard or above.
  sku: { name: 'Standard', tier: 'Standard' }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
  }
}

resource topic 'Microsoft.ServiceBus/namespaces/topics@2021-11-01' = {
  parent: namespace
  name: topicName
  properties: {
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT1H'
    defaultMessageTimeToLive: 'P7D'
  }
}

resource lifecycleTopic 'Microsoft.ServiceBus/namespaces/topics@2021-11-01' = {
  parent: namespace
  name: lifecycleTopicName
  properties: {
    // Drops the resend of a step's message (same messageId) by a re-executed activity.
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT1H'
    defaultMessageTimeToLive: 'P7D'
  }
}

resource lifecycleSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(lifecycleTopic.id, principalId, serviceBusDataSender)
  scope: lifecycleTopic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataSender)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource sender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(topic.id, principalId, serviceBusDataSender)
  scope: topic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataSender)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

@description('Fully qualified namespace, as the app setting SERVICEBUS_NAMESPACE wants it.')
// serviceBusEndpoint is https://{name}.servicebus.{cloud suffix}:443/; the SDK wants the host alone.
output fullyQualifiedNamespace string = split(replace(namespace.properties.serviceBusEndpoint, 'https://', ''), ':')[0]
@description('Topic name, as the app setting SERVICEBUS_TOPIC wants it.')
output topicName string = topic.name
@description('Lifecycle topic name, as the app setting SERVICEBUS_LIFECYCLE_TOPIC wants it.')
output lifecycleTopicName string = lifecycleTopic.name
