// Storage for the Functions host, Durable Functions (task hub queues, tables, blobs), deployment packages and
// Event Grid dead letters. Shared-key access is off: every client authenticates with Entra ID.
@description('Region of the resources.')
param location string
@description('Tags for every resource.')
param tags object
@description('Storage account name.')
@maxLength(24)
param name string
@description('Blob containers to create.')
param containerNames array
@description('Principal of the app\'s user-assigned identity.')
param principalId string

@description('Durable Functions keeps its task hub here (the Azure Storage backend); false with the Durable Task Scheduler.')
param durableOnStorage bool

var blobRoles = {
  // Host leases and keys, deployment packages, Durable large messages and Event Grid dead letters.
  blobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
}
var durableRoles = {
  // Durable Functions control and work-item queues.
  queueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  // Durable Functions history and instance tables.
  tableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}
var roles = durableOnStorage ? union(blobRoles, durableRoles) : blobRoles

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for containerName in containerNames: {
    parent: blobService
    name: containerName
    properties: { publicAccess: 'None' }
  }
]

resource roleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in items(roles): {
    name: guid(account.id, principalId, role.value)
    scope: account
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.value)
      principalId: principalId
      principalType: 'ServicePrincipal'
    }
  }
]

output id string = account.id
output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
