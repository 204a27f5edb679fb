// Key Vault for the approval signing key. The app setting holds a Key Vault reference, not the key
// (`@Microsoft.KeyVault(VaultName=…;SecretName=…)`, "Use Key Vault references as app settings"); the platform
// resolves it with the identity named in the site's keyVaultReferenceIdentity, which may only read this secret.
// Authorization is Azure RBAC; writing the secret here is a control-plane operation of the deployment.
@description('Region of the vault.')
param location string

@description('Tags for every resource.')
param tags object

@description('Key Vault name (globally unique, 3-24 characters).')
@maxLength(24)
param name string

@description('Name of the secret that holds the approval signing key.')
param secretName string

@secure()
@minLength(32)
@description('The approval signing key (at least 32 characters).')
param approvalSecret string

@description('Principal of the app\'s user-assigned identity, which reads the secret.')
param principalId string

// Key Vault Secrets User: the platform reads the secret for the app setting's Key Vault reference.
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
  }
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: secretName
  properties: {
    value: approvalSecret
    contentType: 'HMAC key for approval links'
  }
}

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(secret.id, principalId, keyVaultSecretsUser)
  scope: secret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

@description('Vault name, for the Key Vault reference.')
output name string = vault.name
