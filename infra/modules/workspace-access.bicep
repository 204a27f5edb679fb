// Champion's access to the existing workspace. Deployed into the workspace's resource group.
//
// AzureMLDataScientist covers everything Champion does (models, jobs, environments, online endpoints and their
// deployments) but also much more. ChampionCustom grants only those resource types; creating it needs rights to
// write role definitions in this resource group.
param workspaceName string
@description('Principal of the app\'s user-assigned identity.')
param principalId string
@allowed(['AzureMLDataScientist', 'ChampionCustom'])
param workspaceRole string
@description('The workspace\'s default storage account (same resource group): evaluation and training data are read from its blobs. Empty = no data access.')
param workspaceStorageAccountName string = ''

var azureMLDataScientist = 'f6c7c914-8db3-469d-8ca1-694a8f32e121'
var useCustomRole = workspaceRole == 'ChampionCustom'

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-10-01' existing = {
  name: workspaceName
}

resource customRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (useCustomRole) {
  name: guid(resourceGroup().id, 'champion-azureml-operator')
  properties: {
    // Role names are unique per tenant, so the name carries the resource group.
    roleName: 'Champion AzureML operator (${resourceGroup().name}, ${take(uniqueString(resourceGroup().id), 6)})'
    description: 'What Champion needs: read the workspace; tag models; run training jobs; manage environments and online endpoints; score.'
    type: 'CustomRole'
    assignableScopes: [resourceGroup().id]
    permissions: [
      {
        actions: [
          'Microsoft.MachineLearningServices/workspaces/read'
          'Microsoft.MachineLearningServices/workspaces/models/*'
          'Microsoft.MachineLearningServices/workspaces/jobs/*'
          'Microsoft.MachineLearningServices/workspaces/experiments/*'
          'Microsoft.MachineLearningServices/workspaces/environments/*'
          'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/*'
          'Microsoft.MachineLearningServices/workspaces/data/read'
          'Microsoft.MachineLearningServices/workspaces/data/versions/read'
          'Microsoft.MachineLearningServices/workspaces/datastores/read'
          'Microsoft.MachineLearningServices/workspaces/computes/read'
          'Microsoft.MachineLearningServices/workspaces/metadata/*'
        ]
        notActions: []
        dataActions: [
          'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action'
        ]
        notDataActions: []
      }
    ]
  }
}

var roleDefinitionId = useCustomRole
  ? subscriptionResourceId('Microsoft.Authorization/roleDefinitions', guid(resourceGroup().id, 'champion-azureml-operator'))
  : subscriptionResourceId('Microsoft.Authorization/roleDefinitions', azureMLDataScientist)

resource workspaceAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, principalId, workspaceRole)
  scope: workspace
  dependsOn: [customRole]
  properties: {
    roleDefinitionId: roleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

var storageBlobDataReader = '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'

resource workspaceStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = if (!empty(workspaceStorageAccountName)) {
  name: empty(workspaceStorageAccountName) ? 'unused' : workspaceStorageAccountName
}

// Data assets are read through the Blob REST API with the app's identity (evaluation rows, training data checks).
resource dataReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(workspaceStorageAccountName)) {
  name: guid(workspaceStorage.id, principalId, storageBlobDataReader)
  scope: workspaceStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataReader)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output roleDefinitionId string = roleDefinitionId
