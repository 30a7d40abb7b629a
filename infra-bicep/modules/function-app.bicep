// The Function App (isolated .NET worker) and its plan: Flex Consumption by default, Elastic Premium as the
// alternative. System-assigned identity for storage (AzureWebJobsStorage__accountName) and Key Vault references.
//
// App settings are written in two steps: the site is created with the host's own settings, then the full set
// (product settings included, most of them Key Vault references) is applied after the identity holds "Key Vault
// Secrets User", so the references resolve on the restart that write causes instead of failing once.

@description('Azure region.')
param location string

@description('Globally unique Function App name (becomes <name>.azurewebsites.net).')
param name string

@description('Hosting plan name.')
param planName string

@allowed([
  'FlexConsumption'
  'Premium'
])
param hostingPlan string = 'FlexConsumption'

@description('.NET version of the isolated worker.')
param dotnetVersion string = '10.0'

@description('Flex Consumption: memory per instance (512, 2048 or 4096 MB).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Flex Consumption: scale-out ceiling, a cap on cost as much as on load.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Flex Consumption: instances kept warm for HTTP triggers (0 scales to zero; webhooks then see cold starts).')
@minValue(0)
param alwaysReadyHttpInstances int = 0

@description('Elastic Premium SKU.')
@allowed([
  'EP1'
  'EP2'
  'EP3'
])
param premiumSkuName string = 'EP1'

@description('Elastic Premium: scale-out ceiling.')
param premiumMaximumElasticWorkerCount int = 20

@description('Storage account for the host and Durable Functions.')
param storageAccountName string

@description('Flex Consumption deployment container in that account.')
param deploymentContainerName string

@description('Elastic Premium content share name.')
param contentShareName string

@description('Key Vault URI of the storage connection string for Elastic Premium\'s content share.')
param contentConnectionSecretUri string = ''

@description('Application Insights connection string.')
param appInsightsConnectionString string

@description('Subnet for VNet integration (outbound: ClickHouse on its private IP, everything else via the NAT gateway).')
param subnetId string

@description('Vault the app settings reference.')
param keyVaultName string

@description('Product settings (API.md names with __ for :), values may be Key Vault references.')
param productSettings object

param tags object = {}

var flex = hostingPlan == 'FlexConsumption'

var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
}

// Blobs: host leases, timer schedule state, deployment package, Durable large messages. Queues and tables: the
// Durable Functions task hub on Azure Storage (control/work-item queues, history and instances tables).
var storageRoles = [
  roles.storageBlobDataOwner
  roles.storageQueueDataContributor
  roles.storageTableDataContributor
]

var hostSettings = union(
  {
    AzureWebJobsStorage__accountName: storageAccountName
    APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  },
  // Flex Consumption rejects these (runtime and package come from functionAppConfig); Elastic Premium needs them,
  // including an Azure Files content share, which only authenticates with an account key (kept in Key Vault).
  flex
    ? {}
    : {
        FUNCTIONS_EXTENSION_VERSION: '~4'
        FUNCTIONS_WORKER_RUNTIME: 'dotnet-isolated'
        WEBSITE_CONTENTAZUREFILECONNECTIONSTRING: '@Microsoft.KeyVault(SecretUri=${contentConnectionSecretUri})'
        WEBSITE_CONTENTSHARE: contentShareName
        // A Key Vault reference cannot be validated while the site is being created.
        WEBSITE_SKIP_CONTENTSHARE_VALIDATION: '1'
      }
)

resource storage 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: storageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' existing = {
  name: keyVaultName
}

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: planName
  location: location
  tags: tags
  kind: flex ? 'functionapp' : 'elastic'
  sku: flex
    ? {
        name: 'FC1'
        tier: 'FlexConsumption'
      }
    : {
        name: premiumSkuName
        tier: 'ElasticPremium'
      }
  properties: {
    reserved: true // Linux
    maximumElasticWorkerCount: flex ? null : premiumMaximumElasticWorkerCount
  }
}

resource site 'Microsoft.Web/sites@2025-03-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: { type: 'SystemAssigned' }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    virtualNetworkSubnetId: subnetId
    functionAppConfig: flex
      ? {
          deployment: {
            storage: {
              type: 'blobContainer'
              value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
              authentication: { type: 'SystemAssignedIdentity' }
            }
          }
          scaleAndConcurrency: {
            instanceMemoryMB: instanceMemoryMB
            maximumInstanceCount: maximumInstanceCount
            alwaysReady: alwaysReadyHttpInstances > 0
              ? [
                  {
                    name: 'http'
                    instanceCount: alwaysReadyHttpInstances
                  }
                ]
              : []
          }
          runtime: {
            name: 'dotnet-isolated'
            version: dotnetVersion
          }
        }
      : null
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      // Elastic Premium only: the runtime stack, all outbound through the VNet (so ClickHouse and the NAT egress IP
      // apply), and runtime scale monitoring, without which Kafka triggers do not drive scale-out on Premium.
      linuxFxVersion: flex ? null : 'DOTNET-ISOLATED|${dotnetVersion}'
      vnetRouteAllEnabled: flex ? null : true
      functionsRuntimeScaleMonitoringEnabled: flex ? null : true
      minimumElasticInstanceCount: flex ? null : 1
      appSettings: [
        for setting in items(hostSettings): {
          name: setting.key
          value: setting.value
        }
      ]
    }
  }
}

resource storageRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in storageRoles: {
    name: guid(storage.id, site.id, roleId)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: site.identity.principalId
      principalType: 'ServicePrincipal'
    }
  }
]

// Read secrets only: no listing, no writing.
resource keyVaultRoleAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, site.id, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: site.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// No Event Hubs role: the Kafka extension authenticates with the SAS connection string from Key Vault.

resource appSettings 'Microsoft.Web/sites/config@2025-03-01' = {
  parent: site
  name: 'appsettings'
  properties: union(hostSettings, productSettings)
  dependsOn: [
    storageRoleAssignments
    keyVaultRoleAssignment
  ]
}

output name string = site.name
output id string = site.id
output defaultHostName string = site.properties.defaultHostName
output principalId string = site.identity.principalId
