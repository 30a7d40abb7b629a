// Key Vault (RBAC authorization) that holds every secret the Function App reads. Secrets are written by the module
// that owns them (postgres.bicep, redis.bicep, ...) so a key fetched with listKeys() never leaves its module.

@description('Azure region.')
param location string

@description('Globally unique vault name (3-24 characters).')
param name string

@description('Days a deleted vault or secret can be recovered.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 7

param tags object = {}

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    // Role assignments instead of access policies: the Function App gets "Key Vault Secrets User", nothing more.
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    publicNetworkAccess: 'Enabled'
  }
}

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
