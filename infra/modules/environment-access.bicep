// Champion's access to another environment's workspace (policy `environments[].workspace`), deployed into that
// workspace's resource group: the same roles as on the app's own workspace (workspace-access.bicep), on the
// workspace and its default storage account, which the copy between environments writes the model's files to.
@description('Name of the environment\'s existing workspace (in this resource group).')
param workspaceName string
@description('Principal of the app\'s user-assigned identity.')
param principalId string
@description('Which role the app gets on the workspace (see main.bicep).')
@allowed(['AzureMLDataScientist', 'ChampionCustom'])
param workspaceRole string

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-10-01' existing = {
  name: workspaceName
}

module access 'workspace-access.bicep' = {
  name: 'champion-access-${take(uniqueString(workspace.id), 8)}'
  params: {
    workspaceName: workspaceName
    principalId: principalId
    workspaceRole: workspaceRole
    // The workspace's default storage account (an ARM id; in this resource group, as Azure ML creates it).
    workspaceStorageAccountName: last(split(workspace.properties.storageAccount, '/'))
  }
}
