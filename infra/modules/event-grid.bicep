// The workspace's Event Grid system topic and Champion's subscriptions. Deployed into the workspace's resource
// group: a system topic lives beside its source, in the source's region.
//
//   ModelRegistered                                            → onModelRegistered
//   RunStatusChanged carrying the model monitor's breach tag   → onDriftDetected  (a breach, at any status)
//   RunStatusChanged with RunStatus Completed                  → onDriftDetected  (a monitor run that found no drift
//                                                                                  counts as a healthy observation)
//   DatasetDriftDetected (retired v1 dataset monitors)         → onDriftDetected
//
// Event Grid ANDs advanced filters and ORs the values of one filter, so breaches and completions take one
// subscription each; every other status change of every run is no longer delivered. The breach filter is the one
// the model monitoring docs give: data.RunTags.azureml_modelmonitor_threshold_breached "string contains" the
// failure sentence ("Monitor model performance with Azure Machine Learning model monitoring", Event Grid section).
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
    advancedFilters: []
  }
  {
    name: 'champion-drift'
    functionName: 'onDriftDetected'
    includedEventTypes: ['Microsoft.MachineLearningServices.RunStatusChanged']
    advancedFilters: [
      {
        operatorType: 'StringContains'
        key: 'data.RunTags.azureml_modelmonitor_threshold_breached'
        values: ['has failed due to one or more features violating metric thresholds']
      }
    ]
  }
  {
    name: 'champion-run-completed'
    functionName: 'onDriftDetected'
    includedEventTypes: ['Microsoft.MachineLearningServices.RunStatusChanged']
    advancedFilters: [
      {
        operatorType: 'StringIn'
        key: 'data.RunStatus'
        values: ['Completed']
      }
    ]
  }
  {
    name: 'champion-dataset-drift'
    functionName: 'onDriftDetected'
    includedEventTypes: ['Microsoft.MachineLearningServices.DatasetDriftDetected']
    advancedFilters: []
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
        advancedFilters: sub.advancedFilters
      }
      retryPolicy: {
        maxDeliveryAttempts: 30
        eventTimeToLiveInMinutes: 1440
      }
      deadLetterWithResourceIdentity: deadLetter
    }
  }
]

@description('The system topic Champion uses.')
output systemTopicName string = topicName
@description('Whether the topic was created here (and so is removed with Champion).')
output createdHere bool = createTopic
