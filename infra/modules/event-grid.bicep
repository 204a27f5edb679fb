// The workspace's Event Grid system topic and Champion's two subscriptions. Deployed into the workspace's
// resource group: a system topic lives beside its source, in the source's region.
//
//   ModelRegistered                          → onModelRegistered
//   RunStatusChanged + DatasetDriftDetected  → onDriftDetected
//
// RunStatusChanged is not filtered on the monitor breach tag: recoveries arrive without it, and the app decides.
@description('Name of the existing workspace (in this resource group).')
param workspaceName string
@description('Reuse this system topic (a workspace can have only one); empty to create one.')
param existingSystemTopicName string
@description('Resource id of the Function App.')
param functionAppId string
@description('Create the subscriptions (the functions must exist first).')
param deployEventSubscriptions bool
@description('User-assigned identity the new topic uses to write dead letters.')
param identityId string
@description('Storage account that keeps undeliverable events.')
param deadLetterStorageAccountId string
@description('Blob container for undeliverable events.')
param deadLetterContainerName string
@description('Tags for every resource.')
param tags object

var createTopic = empty(existingSystemTopicName)
var topicName = createTopic ? '${take(workspaceName, 40)}-events' : existingSystemTopicName

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-10-01' existing = {
  name: workspaceName
}

resource newTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = if (createTopic) {
  name: topicName
  location: workspace.location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    source: workspace.id
    topicType: 'Microsoft.MachineLearningServices.Workspaces'
  }
}

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: topicName
}

var subscriptions = [
  {
    name: 'champion-model-registered'
    functionName: 'onModelRegistered'
    includedEventTypes: ['Microsoft.MachineLearningServices.ModelRegistered']
  }
  {
    name: 'champion-drift'
    functionName: 'onDriftDetected'
    includedEventTypes: [
      'Microsoft.MachineLearningServices.RunStatusChanged'
      'Microsoft.MachineLearningServices.DatasetDriftDetected'
    ]
  }
]

// Dead-lettering with the topic's identity needs that identity on the topic, which only a topic created here has.
var deadLetter = createTopic
  ? {
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: deadLetterStorageAccountId
          blobContainerName: deadLetterContainerName
        }
      }
      identity: {
        type: 'UserAssigned'
        userAssignedIdentity: identityId
      }
    }
  : null

resource eventSubscriptions 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = [
  for sub in subscriptions: if (deployEventSubscriptions) {
    parent: topic
    name: sub.name
    dependsOn: [newTopic]
    properties: {
      destination: {
        endpointType: 'AzureFunction'
        properties: {
          resourceId: '${functionAppId}/functions/${sub.functionName}'
          // The Functions Event Grid trigger invokes once per event anyway.
          maxEventsPerBatch: 1
          preferredBatchSizeInKilobytes: 64
        }
      }
      eventDeliverySchema: 'EventGridSchema'
      filter: {
        includedEventTypes: sub.includedEventTypes
      }
      retryPolicy: {
        maxDeliveryAttempts: 30
        eventTimeToLiveInMinutes: 1440
      }
      deadLetterWithResourceIdentity: deadLetter
    }
  }
]

output systemTopicName string = topicName
