// Storage account for the Functions host: leases, timers' schedule monitor, the Durable Functions task hub
// (queues, tables, blobs) and, on Flex Consumption, the deployment package container.

@description('Azure region.')
param location string

@description('Globally unique account name (3-24 lowercase letters and digits).')
param name string

@description('Blob container Flex Consumption deploys the app package to.')
param deploymentContainerName string = 'app-package'

@description('Elastic Premium keeps the app content on an Azure Files share, which only takes an account key.')
@allowed([
  'FlexConsumption'
  'Premium'
])
param hostingPlan string

@description('Name of the Azure Files share for Elastic Premium content (ignored on Flex Consumption).')
param contentShareName string = 'function-content'

@description('Vault that receives the account connection string Elastic Premium needs (ignored on Flex Consumption).')
param keyVaultName string

param tags object = {}

var premium = hostingPlan == 'Premium'

resource account 'Microsoft.Storage/storageAccounts@2025-01-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    // Flex Consumption talks to storage with its managed identity only; Premium's content share needs the key.
    allowSharedKeyAccess: premium
    publicNetworkAccess: 'Enabled'
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2025-01-01' = {
  parent: account
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-01-01' = if (!premium) {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource fileService 'Microsoft.Storage/storageAccounts/fileServices@2025-01-01' = if (premium) {
  parent: account
  name: 'default'
}

// Created up front because the app setting that names it is a Key Vault reference, which the platform cannot
// resolve at create time (WEBSITE_SKIP_CONTENTSHARE_VALIDATION=1 in function-app.bicep).
resource contentShare 'Microsoft.Storage/storageAccounts/fileServices/shares@2025-01-01' = if (premium) {
  parent: fileService
  name: contentShareName
  properties: {
    shareQuota: 100
  }
}

// The key goes straight into Key Vault; the app setting references it, so it appears in no template output.
module contentConnectionSecret 'key-vault-secret.bicep' = if (premium) {
  name: 'secret-storage-connection-string'
  params: {
    keyVaultName: keyVaultName
    name: 'storage-connection-string'
    value: 'DefaultEndpointsProtocol=https;AccountName=${account.name};AccountKey=${account.listKeys().keys[0].value};EndpointSuffix=${environment().suffixes.storage}'
  }
}

output name string = account.name
output id string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
output deploymentContainerName string = deploymentContainerName
@description('Key Vault URI of the connection string Elastic Premium\'s content share uses; empty on Flex Consumption.')
output contentConnectionSecretUri string = contentConnectionSecret.?outputs.uri ?? ''
