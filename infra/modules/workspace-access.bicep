// Champion's access to the existing workspace. Deployed into the workspace's resource group.
//
// ChampionCustom (the default) grants exactly the actions of the ARM calls Champion makes (test/infra lists each call
// in lib/ with its action and fails on a call the role does not allow or an action no call needs); creating it needs
// the right to write role definitions in this resource group. AzureMLDataScientist covers the same and much more.
@description('Name of the existing workspace (in this resource group).')
param workspaceName string
@description('Principal of the app\'s user-assigned identity.')
param principalId string
@description('Which role the app gets on the workspace (see main.bicep).')
@allowed(['AzureMLDataScientist', 'ChampionCustom'])
param workspaceRole string
@description('The workspace\'s default storage account (same resource group): evaluation and training data are read from its blobs and training code is uploaded to it. Empty = no data access.')
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
        // Each line: the calls in lib/azure that need it.
        actions: [
          // workspaces.get: region and MLflow tracking URI.
          'Microsoft.MachineLearningServices/workspaces/read'
          // modelVersions.get/list/createOrUpdate: versions, stage tags, registration; deployments read the model.
          'Microsoft.MachineLearningServices/workspaces/models/versions/read'
          'Microsoft.MachineLearningServices/workspaces/models/versions/write'
          // Training jobs: submit, read, cancel.
          'Microsoft.MachineLearningServices/workspaces/jobs/read'
          'Microsoft.MachineLearningServices/workspaces/jobs/write'
          'Microsoft.MachineLearningServices/workspaces/jobs/cancel/action'
          // MLflow runs/get: the metrics a training run logged.
          'Microsoft.MachineLearningServices/workspaces/experiments/runs/read'
          // environmentVersions.get/createOrUpdate: the training environment.
          'Microsoft.MachineLearningServices/workspaces/environments/versions/read'
          'Microsoft.MachineLearningServices/workspaces/environments/versions/write'
          // Endpoints (traffic, tags, scoring key) and their blue/green deployments.
          'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/read'
          'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/write'
          'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/listKeys/action'
          'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments/read'
          'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments/write'
          'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments/delete'
          // codeVersions.get/createOrUpdate: the training code a job runs (uploaded first to the datastore).
          'Microsoft.MachineLearningServices/workspaces/codes/versions/read'
          'Microsoft.MachineLearningServices/workspaces/codes/versions/write'
          // dataVersions.get/list and datastores.get: where a data asset's blobs are.
          'Microsoft.MachineLearningServices/workspaces/data/versions/read'
          'Microsoft.MachineLearningServices/workspaces/datastores/read'
          // computeOperations.get: a job's compute id.
          'Microsoft.MachineLearningServices/workspaces/computes/read'
        ]
        notActions: []
        // Scoring uses the endpoint key (listKeys above), not Entra ID.
        dataActions: []
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

var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource workspaceStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = if (!empty(workspaceStorageAccountName)) {
  name: empty(workspaceStorageAccountName) ? 'unused' : workspaceStorageAccountName
}

// Through the Blob REST API with the app's identity: data assets are read (BlobDataReader.readDataAsset: evaluation
// rows, training data checks) and training code is written (BlobCodeStore.uploadCode: Put Blob below LocalUpload/
// of the default datastore before codeVersions.createOrUpdate). Writing blobs needs Storage Blob Data Contributor,
// which includes reading.
resource dataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(workspaceStorageAccountName)) {
  name: guid(workspaceStorage.id, principalId, storageBlobDataContributor)
  scope: workspaceStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

var monitoringReader = '43d0d8ad-25c7-4714-9337-8ba259a9fe05'

// Through Azure Monitor's metrics API with the app's identity: each rollout step is judged from the online
// endpoints' platform metrics (AzureMonitorMetrics.requestCounts in lib/azure/metrics.ts reads RequestsPerMinute, which
// needs Microsoft.Insights/metrics/read on the endpoint). Champion creates its endpoints at run time, so the
// workspace, their parent, is the narrowest scope a template can name; Monitoring Reader is the built-in role that
// reads metrics ("Roles, permissions, and security in Azure Monitor").
resource metricsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, principalId, monitoringReader)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringReader)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

@description('The role the app holds on the workspace.')
output roleDefinitionId string = roleDefinitionId
@description('The assignment of that role, removed with Champion.')
output roleAssignmentId string = workspaceAccess.id
