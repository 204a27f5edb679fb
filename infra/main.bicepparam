// The one parameters file for every provision, by azd (which exports the environment's values, `azd env set`) and
// by the Azure CLI (`az deployment group create -g RG -p infra/main.bicepparam` with the same variables exported).
// Required values have no fallback here: a provision without them fails before anything changes.
using 'main.bicep'

param environmentName = readEnvironmentVariable('AZURE_ENV_NAME')
param location = readEnvironmentVariable('AZURE_LOCATION')
param workspaceName = readEnvironmentVariable('AZUREML_WORKSPACE_NAME')
param workspaceResourceGroupName = readEnvironmentVariable('AZUREML_WORKSPACE_RESOURCE_GROUP')
param workspaceStorageAccountName = readEnvironmentVariable('AZUREML_WORKSPACE_STORAGE_ACCOUNT', '')
param existingSystemTopicName = readEnvironmentVariable('AZUREML_SYSTEM_TOPIC_NAME', '')
param workspaceRole = readEnvironmentVariable('CHAMPION_WORKSPACE_ROLE', 'ChampionCustom')
param gitSha = readEnvironmentVariable('CHAMPION_GIT_SHA')
param gitRepository = readEnvironmentVariable('CHAMPION_GIT_REPOSITORY', '')
// The policies file's JSON text (`azd env set CHAMPION_POLICIES "$(cat policies.json)"`).
param championPolicies = json(readEnvironmentVariable('CHAMPION_POLICIES'))
// Generated once by infra/hooks/preprovision.sh; written to Key Vault by the template.
param approvalSecret = readEnvironmentVariable('CHAMPION_APPROVAL_SECRET')
// The app registration infra/hooks/preprovision.sh creates (or finds) for sign-in.
param authClientId = readEnvironmentVariable('CHAMPION_AUTH_CLIENT_ID')
param functionAppName = readEnvironmentVariable('AZURE_FUNCTION_APP_NAME', '')
param durableBackend = readEnvironmentVariable('CHAMPION_DURABLE_BACKEND', 'AzureStorage')
param deployEventSubscriptions = bool(readEnvironmentVariable('DEPLOY_EVENT_SUBSCRIPTIONS', 'false'))
