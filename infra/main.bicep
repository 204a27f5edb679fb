// Champion next to an existing Azure Machine Learning workspace: a Flex Consumption Function App (Node 22) with a
// user-assigned identity, identity-only storage for the Functions host and Durable Functions, monitoring, role
// assignments, and the workspace's Event Grid system topic wired to the app's Event Grid functions.
targetScope = 'resourceGroup'

@minLength(1)
@maxLength(64)
@description('Environment name; seeds resource names and the azd-env-name tag.')
param environmentName string

@description('Region for Champion\'s resources. The Event Grid system topic always follows the workspace.')
param location string = resourceGroup().location

@description('Name of the existing Azure ML workspace Champion manages.')
param workspaceName string

@description('Resource group of the workspace (same subscription). It must not be the one Champion is deployed to: `azd down` deletes that one.')
param workspaceResourceGroupName string

@description('Function App name. Empty: generated from the environment name.')
param functionAppName string = ''

@description('Upper bound on instances. Champion is low-volume; this caps a runaway, not a bill.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory of each instance (Flex Consumption sizes).')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('ChampionCustom (default: a custom role with exactly the calls Champion makes, created in the workspace resource group) or AzureMLDataScientist (built-in, broader; for deployers who may not create role definitions).')
@allowed(['AzureMLDataScientist', 'ChampionCustom'])
param workspaceRole string = 'ChampionCustom'

@description('An Azure ML workspace can have only one Event Grid system topic: name it here if one exists. Empty: one is created.')
param existingSystemTopicName string = ''

@description('Create the Event Grid subscriptions. They need the functions to exist: infra/hooks/postdeploy.sh provisions again with true once the code is deployed, and later provisions keep it.')
param deployEventSubscriptions bool = false

@description('Commit the deployed code was built from (recorded in promotion evidence and on deployments).')
@minLength(7)
param gitSha string

@description('Repository URL of the deployed code. Empty: not recorded.')
param gitRepository string = ''

@description('Promotion and retraining policies (the object CHAMPION_POLICIES holds), passed to the app as JSON.')
param championPolicies object

@description('The workspace\'s default storage account, for reading data assets. Empty: no data access.')
param workspaceStorageAccountName string = ''

@secure()
@minLength(32)
@description('Key that signs approval links (at least 32 characters). Written to Key Vault; the app setting only references it.')
param approvalSecret string

@description('Client id of the Entra ID app registration approvers sign in with (App Service authentication).')
@minLength(36)
param authClientId string

@description('Where Durable Functions keeps its state: AzureStorage (queues and tables in the storage account created here) or DurableTaskScheduler (a managed scheduler and task hub).')
@allowed(['AzureStorage', 'DurableTaskScheduler'])
param durableBackend string = 'AzureStorage'

@description('Extra tags for every resource. Empty: only the azd tags.')
param tags object = {}

var workspaceRg = workspaceResourceGroupName
var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var appName = !empty(functionAppName) ? functionAppName : 'func-champion-${resourceToken}'
var deploymentContainerName = 'app-package-${take(resourceToken, 7)}'
var deadLetterContainerName = 'eventgrid-deadletter'
var appInsightsName = 'appi-champion-${resourceToken}'
var keyVaultName = 'kv-champion-${take(resourceToken, 12)}'
var approvalSecretName = 'approval-signing-key'
// host.json durableTask.hubName; the scheduler's task hub takes the same name.
var taskHubName = 'ChampionHub'
var useScheduler = durableBackend == 'DurableTaskScheduler'
var allTags = union(tags, { 'azd-env-name': environmentName, application: 'champion' })
var ownWorkspaceId = toLower(resourceId(subscription().subscriptionId, workspaceRg, 'Microsoft.MachineLearningServices/workspaces', workspaceName))
// Every other workspace the policies promote into (`environments[].workspace`, ARM ids), each once.
var environmentWorkspaceIds = filter(
  union(flatten(map(championPolicies.?policies ?? [], policy => map(policy.?environments ?? [], environment => toLower(environment.workspace)))), []),
  id => id != ownWorkspaceId
)
// Every registry the policies copy models through (`environments[].registry`, ARM ids), each once.
var environmentRegistryIds = filter(
  union(flatten(map(championPolicies.?policies ?? [], policy => map(policy.?environments ?? [], environment => toLower(environment.?registry ?? '')))), []),
  id => !empty(id)
)

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-champion-${resourceToken}'
  location: location
  tags: allTags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'champion-monitoring'
  params: {
    location: location
    tags: allTags
    logAnalyticsName: 'log-champion-${resourceToken}'
    applicationInsightsName: appInsightsName
    principalId: identity.properties.principalId
  }
}

// Read where it is needed rather than passed through a module output, which deployment history would keep.
resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

module storage 'modules/storage.bicep' = {
  name: 'champion-storage'
  params: {
    location: location
    tags: allTags
    name: 'stchampion${take(resourceToken, 13)}'
    containerNames: [deploymentContainerName, deadLetterContainerName]
    principalId: identity.properties.principalId
    durableOnStorage: !useScheduler
  }
}

module keyVault 'modules/key-vault.bicep' = {
  name: 'champion-key-vault'
  params: {
    location: location
    tags: allTags
    name: keyVaultName
    secretName: approvalSecretName
    approvalSecret: approvalSecret
    principalId: identity.properties.principalId
  }
}

module durableTask 'modules/durable-task.bicep' = if (useScheduler) {
  name: 'champion-durable-task'
  params: {
    location: location
    tags: allTags
    name: 'dts-champion-${resourceToken}'
    taskHubName: taskHubName
    principalId: identity.properties.principalId
  }
}

module messaging 'modules/messaging.bicep' = {
  name: 'champion-messaging'
  params: {
    location: location
    tags: allTags
    namespaceName: 'sb-champion-${resourceToken}'
    topicName: 'approvals'
    lifecycleTopicName: 'lifecycle'
    principalId: identity.properties.principalId
  }
}

module lifecycleEvents 'modules/lifecycle-events.bicep' = {
  name: 'champion-lifecycle-events'
  params: {
    location: location
    tags: allTags
    topicName: 'egt-champion-${resourceToken}'
    principalId: identity.properties.principalId
  }
}

// Everything the app reads at start, plus the identity-based host storage connection. The host and Durable
// Functions use AzureWebJobsStorage__*; there is no connection string and no account key anywhere.
var appSettings = {
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.properties.clientId
  AzureWebJobsStorage__blobServiceUri: storage.outputs.blobEndpoint
  AzureWebJobsStorage__queueServiceUri: storage.outputs.queueEndpoint
  AzureWebJobsStorage__tableServiceUri: storage.outputs.tableEndpoint
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  // Lets the Functions host send telemetry with Entra ID instead of the instrumentation key.
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.properties.clientId};Authorization=AAD'
  AZURE_CLIENT_ID: identity.properties.clientId
  AZURE_SUBSCRIPTION_ID: subscription().subscriptionId
  AZURE_RESOURCE_GROUP: workspaceRg
  AZUREML_WORKSPACE_NAME: workspaceName
  CHAMPION_GIT_SHA: gitSha
  CHAMPION_GIT_REPOSITORY: gitRepository
  CHAMPION_POLICIES: string(championPolicies)
  // A Key Vault reference, resolved by the platform with keyVaultReferenceIdentity; the key is never a setting.
  CHAMPION_APPROVAL_SECRET: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${approvalSecretName})'
  CHAMPION_PUBLIC_URL: 'https://${appName}.azurewebsites.net'
  SERVICEBUS_NAMESPACE: messaging.outputs.fullyQualifiedNamespace
  SERVICEBUS_TOPIC: messaging.outputs.topicName
  SERVICEBUS_LIFECYCLE_TOPIC: messaging.outputs.lifecycleTopicName
  // Lifecycle events as CloudEvents, published with the app's identity (the topic takes no key).
  CHAMPION_EVENTGRID_ENDPOINT: lifecycleEvents.outputs.endpoint
  // The host buffers a request body up to this size before the app sees it (default 100 MB: "App settings reference
  // for Azure Functions"). The app's routes take 64 KB; Event Grid events are at most 1 MB, so deliveries still fit.
  FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '1048576'
}

// The Durable Task Scheduler replaces the Azure Storage provider through host.json overrides in app settings
// (AzureFunctionsJobHost__path__to__key), identity-based like the rest: the connection names the endpoint and the
// user-assigned identity, no key.
var durableSettings = useScheduler
  ? {
      AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'azureManaged'
      AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING'
      DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${durableTask.outputs.endpoint};Authentication=ManagedIdentity;ClientID=${identity.properties.clientId}'
    }
  : {}

// Settings are owned wholly by the template: every provision sets all of them from main.bicepparam, and nothing is
// set by hand (a setting added in the portal is removed by the next provision; add it here instead).
module functionApp 'modules/function-app.bicep' = {
  name: 'champion-function-app'
  dependsOn: [monitoring, keyVault]
  params: {
    location: location
    tags: union(allTags, { 'azd-service-name': 'champion' })
    planName: 'plan-champion-${resourceToken}'
    appName: appName
    identityId: identity.id
    deploymentContainerUrl: '${storage.outputs.blobEndpoint}${deploymentContainerName}'
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    appSettings: union(appSettings, durableSettings)
    authClientId: authClientId
  }
}

module workspaceAccess 'modules/workspace-access.bicep' = {
  name: 'champion-workspace-access'
  scope: resourceGroup(workspaceRg)
  params: {
    workspaceName: workspaceName
    principalId: identity.properties.principalId
    workspaceRole: workspaceRole
    workspaceStorageAccountName: workspaceStorageAccountName
  }
}

// The same roles on every other environment's workspace (its ARM id: /subscriptions/{s}/resourceGroups/{rg}/providers/
// Microsoft.MachineLearningServices/workspaces/{name}). Only the app's own workspace sends it events.
module environmentAccess 'modules/environment-access.bicep' = [
  for id in environmentWorkspaceIds: {
    name: 'champion-environment-access-${take(uniqueString(id), 8)}'
    scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
    // A custom role is defined once per resource group: after the app's own workspace's, when they share one.
    dependsOn: [workspaceAccess]
    params: {
      workspaceName: split(id, '/')[8]
      principalId: identity.properties.principalId
      workspaceRole: workspaceRole
    }
  }
]

// AzureML Registry User on each of them (ARM id: /subscriptions/{s}/resourceGroups/{rg}/providers/
// Microsoft.MachineLearningServices/registries/{name}).
module registryAccess 'modules/registry-access.bicep' = [
  for id in environmentRegistryIds: {
    name: 'champion-registry-access-${take(uniqueString(id), 8)}'
    scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
    params: {
      registryName: split(id, '/')[8]
      principalId: identity.properties.principalId
    }
  }
]

module events 'modules/event-grid.bicep' = {
  name: 'champion-event-grid'
  scope: resourceGroup(workspaceRg)
  params: {
    workspaceName: workspaceName
    existingSystemTopicName: existingSystemTopicName
    functionAppId: functionApp.outputs.id
    deployEventSubscriptions: deployEventSubscriptions
    identityId: identity.id
    deadLetterStorageAccountId: storage.outputs.id
    deadLetterContainerName: deadLetterContainerName
    tags: allTags
  }
}

// Names and ids only: nothing here grants access.
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_HOSTNAME string = functionApp.outputs.defaultHostName
output AZURE_CLIENT_ID string = identity.properties.clientId
output AZURE_PRINCIPAL_ID string = identity.properties.principalId
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_DEPLOYMENT_CONTAINER string = deploymentContainerName
output AZURE_EVENTGRID_SYSTEM_TOPIC string = events.outputs.systemTopicName
output AZURE_EVENTGRID_LIFECYCLE_TOPIC string = lifecycleEvents.outputs.name
output AZURE_EVENT_SUBSCRIPTIONS_DEPLOYED bool = deployEventSubscriptions
output AZURE_EVENTGRID_SYSTEM_TOPIC_CREATED bool = events.outputs.createdHere
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_WORKSPACE_ROLE_ASSIGNMENT_ID string = workspaceAccess.outputs.roleAssignmentId
output AZURE_WORKSPACE_ROLE_DEFINITION_ID string = workspaceAccess.outputs.roleDefinitionId
output AZURE_DURABLE_BACKEND string = durableBackend
