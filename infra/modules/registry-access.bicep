// Champion's access to an Azure ML registry a policy copies models through (`environments[].registry`), deployed into
// the registry's resource group: AzureML Registry User, the built-in role for registry assets ("Manage access to Azure
// Machine Learning workspaces": "can get registries, and read, write and delete assets in them"). The custom workspace
// role cannot be used here: its assignable scope is the workspace's resource group.
@description('Name of the existing registry (in this resource group).')
param registryName string
@description('Principal of the app\'s user-assigned identity.')
param principalId string

var azureMLRegistryUser = '1823dd4f-9b8c-4ab6-ab4e-7397a3684615'

resource registry 'Microsoft.MachineLearningServices/registries@2024-10-01' existing = {
  name: registryName
}

// registries models versions get / startPendingUpload / createOrUpdate (lib/azure/ml-registry.ts).
resource registryUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, principalId, azureMLRegistryUser)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', azureMLRegistryUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
