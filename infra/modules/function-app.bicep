// Flex Consumption plan and Function App. On Flex the runtime and host version come from functionAppConfig:
// FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION are deprecated app settings there (the platform runs
// host ~4 and sets them itself), so they are deliberately not set.
@description('Region of the resources.')
param location string
@description('Tags for every resource.')
param tags object
@description('Flex Consumption plan name.')
param planName string
@description('Function App name.')
param appName string
@description('Resource id of the user-assigned identity the app runs as.')
param identityId string
@description('Blob container URL that holds deployment packages.')
param deploymentContainerUrl string
@description('Upper bound on instances.')
param maximumInstanceCount int
@description('Memory of each instance.')
param instanceMemoryMB int
@description('Client id of the Entra ID app registration that signs approvers in (App Service authentication).')
param authClientId string

@description('App settings as name → value.')
@secure()
param appSettings object

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [for setting in items(appSettings): { name: setting.key, value: setting.value }]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

// Publishing goes through the deployment container with Entra ID; basic-auth publishing stays off.
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: { allow: false }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: { allow: false }
}

// App Service authentication with Entra ID. Unauthenticated requests are let through (AllowAnonymous), because
// Event Grid delivers with the function's system key only (the AzureFunction endpoint type cannot present an Entra
// token) and automation calls the API with function keys; for a signed-in caller the platform sets the
// X-MS-CLIENT-PRINCIPAL* headers (clients cannot set them) and WEBSITE_AUTH_ENABLED=True, and the app refuses a
// decision without them (lib/identity.ts). Docs: "Authentication and authorization in Azure App Service"
// (Allow unauthenticated requests: authorization is left to the app), "Work with user identities".
resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: { enabled: true }
    globalValidation: {
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
    }
    httpSettings: { requireHttps: true }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: authClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: ['api://${authClientId}', authClientId]
        }
      }
    }
    // Champion needs the caller's identity, not their tokens: no token store.
    login: { tokenStore: { enabled: false } }
  }
}

output id string = site.id
output name string = site.name
output defaultHostName string = site.properties.defaultHostName
