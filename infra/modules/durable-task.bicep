// The Durable Task Scheduler backend (durableBackend = 'DurableTaskScheduler'): a scheduler, the task hub and the
// role the app's identity needs to run orchestrations there. With it, Durable Functions keeps no state in the
// storage account (which still holds host leases and the deployment package), and the host uses the
// durableTask "azureManaged" storage provider ("Durable Task Scheduler" docs: configure the Functions app).
@description('Region of the scheduler.')
param location string

@description('Tags for every resource.')
param tags object

@description('Scheduler name.')
param name string

@description('Task hub name (the host\'s durableTask.hubName).')
param taskHubName string

@description('Principal of the app\'s user-assigned identity, which runs orchestrations in the task hub.')
param principalId string

// Durable Task Data Contributor: start, run and query orchestrations in the task hub.
var durableTaskDataContributor = '0ad04412-c4d5-4796-b79c-f76d14c8d402'

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    ipAllowlist: ['0.0.0.0/0']
    sku: { name: 'Consumption' }
  }
}

resource taskHub 'Microsoft.DurableTask/schedulers/taskHubs@2025-11-01' = {
  parent: scheduler
  name: taskHubName
}

resource contributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(taskHub.id, principalId, durableTaskDataContributor)
  scope: taskHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', durableTaskDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

@description('Scheduler endpoint, for the connection setting (identity-based: no key).')
output endpoint string = scheduler.properties.endpoint
