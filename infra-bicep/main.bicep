// Cdp.Functions on Azure: Function App (Flex Consumption or Elastic Premium) + Durable Functions on Azure Storage,
// Event Hubs (Kafka) for the pipeline topics, PostgreSQL Flexible Server, Azure Managed Redis, ClickHouse on a VM,
// Key Vault for every secret, Application Insights. Deploy to an existing resource group; see README.md.

targetScope = 'resourceGroup'

// ---------- naming and placement ----------

@description('Short lowercase name prefix (letters and digits) for every resource; global names add a hash of the resource group.')
@minLength(3)
@maxLength(11)
param prefix string

@description('Azure region for every resource.')
param location string = resourceGroup().location

param tags object = {
  app: 'cdp'
}

@description('Region of the Static Web App that serves web/ (the console and the WeCom sidebar); it has fewer regions than the rest.')
@allowed([
  'eastasia'
  'eastus2'
  'centralus'
  'westus2'
  'westeurope'
])
param staticWebAppLocation string = 'eastasia'

// ---------- Function App ----------

@description('Flex Consumption (serverless, per-function scaling) or Elastic Premium (EP1+, always-warm instances).')
@allowed([
  'FlexConsumption'
  'Premium'
])
param hostingPlan string = 'FlexConsumption'

@description('.NET version of the isolated worker.')
param dotnetVersion string = '10.0'

@description('Flex Consumption: memory per instance in MB.')
@allowed([
  512
  2048
  4096
])
param flexInstanceMemoryMB int = 2048

@description('Flex Consumption: most instances the app scales out to.')
param flexMaximumInstanceCount int = 40

@description('Flex Consumption: HTTP instances kept warm (0 = scale to zero).')
param flexAlwaysReadyHttpInstances int = 0

@description('Elastic Premium SKU when hostingPlan is Premium.')
@allowed([
  'EP1'
  'EP2'
  'EP3'
])
param premiumSkuName string = 'EP1'

@description('Durable Functions task hub name (letters and digits); two apps sharing a storage account need different ones.')
param durableTaskHubName string = 'CdpHub'

// ---------- PostgreSQL ----------

param postgresAdminLogin string = 'cdpadmin'

@secure()
@minLength(8)
@description('PostgreSQL administrator password (supply at deploy time).')
param postgresAdminPassword string

param postgresVersion string = '16'
param postgresSkuName string = 'Standard_B2s'
@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param postgresSkuTier string = 'Burstable'
param postgresStorageSizeGB int = 32

// ---------- Redis ----------

@description('Azure Managed Redis SKU.')
param redisSkuName string = 'Balanced_B1'

@allowed([
  'Enabled'
  'Disabled'
])
param redisHighAvailability string = 'Enabled'

// ---------- Event Hubs ----------

@allowed([
  'Standard'
  'Premium'
])
param eventHubsSkuName string = 'Standard'
param eventHubsCapacity int = 1
param eventHubPartitionCount int = 4
param eventHubRetentionHours int = 72

@description('Consumer group of the Function App on every topic.')
param consumerGroupName string = 'cdp-functions'

// ---------- ClickHouse VM ----------

param clickhouseVmSize string = 'Standard_D2s_v5'
param clickhouseDataDiskSizeGB int = 128
param clickhouseAdminUsername string = 'azureuser'

@description('SSH public key for the VM admin (a public key, not a secret).')
@minLength(1)
param clickhouseAdminSshPublicKey string

@secure()
@minLength(12)
@description('Password of the ClickHouse user the app signs in as (supply at deploy time).')
param clickhousePassword string

// ---------- channels (API.md "Configuration the contract relies on") ----------

// The @minLength bounds make an unset value (the parameters file defaults to '') fail validation before anything
// is deployed.

@secure()
@minLength(32)
param crmSigningSecret string

@secure()
@minLength(32)
param wechatSigningSecret string

@secure()
@minLength(32)
param erpSigningSecret string

@secure()
@minLength(32)
@description('HMAC secret of the privacy-number provider\'s call-record pushes (POST /api/ingest/calls).')
param callsSigningSecret string

@description('WeCom corp id (not a secret: it is the receive id in every callback).')
@minLength(1)
param wecomCorpId string

@secure()
@minLength(32)
@maxLength(32)
param wecomToken string

@secure()
@minLength(43)
@maxLength(43)
@description('WeCom EncodingAESKey (43 characters).')
param wecomEncodingAesKey string

@secure()
@minLength(32)
param wecomSecret string

@description('WeCom API base URL (a stand-in server may replace WeCom in test environments).')
param wecomApiBaseUrl string = 'https://qyapi.weixin.qq.com'

@secure()
@minLength(8)
@description('WeCom group robot webhook that receives alerts (its key is a credential).')
param wecomAlertWebhookUrl string

@description('The WeCom app (应用) staff sign in through: its AgentId.')
@minLength(1)
param wecomAgentId string

@secure()
@minLength(32)
@description('Signs staff session cookies (Auth:SessionKey); at least 32 characters.')
param authSessionKey string

@description('Browser origins allowed to call the API besides the Static Web App that fronts it (comma-separated; usually empty).')
param authAllowedOrigins string = ''

@secure()
@minLength(32)
@description('Keys the hashes that stand in for phones/emails in logs and for user ids in ClickHouse (Logging:PiiHashKey); its own key, so rotating the session key changes neither.')
param loggingPiiHashKey string

@description('The new privacy-number adapter (Alibaba Dyplsapi RPC endpoint) for the grey-release cities; empty keeps every city on the legacy adapter.')
param virtualNumbersProviderBaseUrl string = ''

@description('AccessKey id the new privacy-number adapter signs with (required with virtualNumbersProviderBaseUrl).')
param virtualNumbersAccessKeyId string = ''

@secure()
@description('That AccessKey\'s secret; goes to Key Vault (required with virtualNumbersProviderBaseUrl).')
param virtualNumbersAccessKeySecret string = ''

@description('The current privacy-number adapter\'s endpoint (every city not in virtualNumbersGreyCities).')
param virtualNumbersLegacyBaseUrl string = ''

@description('Comma-separated cities on the new adapter (grey release); * puts every city on it.')
param virtualNumbersGreyCities string = ''

// ---------- names ----------

// The six topics of shared/Cdp.Shared/Messaging/Topics.cs; each is an event hub of the same name.
var topics = [
  'data-ingestion'
  'identity-resolution'
  'summary-calculation'
  'notification'
  'event-stream'
  'bulk-import'
]

var suffix = take(uniqueString(resourceGroup().id, prefix), 8)
var names = {
  logAnalytics: '${prefix}-log'
  appInsights: '${prefix}-appi'
  network: prefix
  keyVault: '${prefix}-kv-${suffix}'
  storage: toLower('${prefix}st${suffix}')
  postgres: '${prefix}-pg-${suffix}'
  redis: '${prefix}-redis-${suffix}'
  eventHubs: '${prefix}-eh-${suffix}'
  clickhouseVm: '${prefix}-clickhouse'
  plan: '${prefix}-plan'
  functionApp: '${prefix}-func-${suffix}'
  staticWebApp: '${prefix}-web-${suffix}'
}

var clickhousePrivateIp = '10.40.1.10' // inside network.bicep's default ClickHouse subnet 10.40.1.0/24

// ---------- resources ----------

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    logAnalyticsName: names.logAnalytics
    appInsightsName: names.appInsights
    tags: tags
  }
}

module network 'modules/network.bicep' = {
  name: 'network'
  params: {
    location: location
    namePrefix: names.network
    hostingPlan: hostingPlan
    tags: tags
  }
}

module keyVault 'modules/key-vault.bicep' = {
  name: 'key-vault'
  params: {
    location: location
    name: names.keyVault
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    name: names.storage
    hostingPlan: hostingPlan
    contentShareName: toLower(names.functionApp)
    keyVaultName: keyVault.outputs.name
    tags: tags
  }
}

module postgres 'modules/postgres.bicep' = {
  name: 'postgres'
  params: {
    location: location
    name: names.postgres
    administratorLogin: postgresAdminLogin
    administratorPassword: postgresAdminPassword
    version: postgresVersion
    skuName: postgresSkuName
    skuTier: postgresSkuTier
    storageSizeGB: postgresStorageSizeGB
    egressIpAddress: network.outputs.egressIpAddress
    keyVaultName: keyVault.outputs.name
    tags: tags
  }
}

module redis 'modules/redis.bicep' = {
  name: 'redis'
  params: {
    location: location
    name: names.redis
    skuName: redisSkuName
    highAvailability: redisHighAvailability
    keyVaultName: keyVault.outputs.name
    tags: tags
  }
}

module eventHubs 'modules/event-hubs.bicep' = {
  name: 'event-hubs'
  params: {
    location: location
    name: names.eventHubs
    skuName: eventHubsSkuName
    capacity: eventHubsCapacity
    topics: topics
    partitionCount: eventHubPartitionCount
    retentionHours: eventHubRetentionHours
    consumerGroupName: consumerGroupName
    keyVaultName: keyVault.outputs.name
    tags: tags
  }
}

module clickhouse 'modules/clickhouse-vm.bicep' = {
  name: 'clickhouse'
  params: {
    location: location
    name: names.clickhouseVm
    subnetId: network.outputs.clickhouseSubnetId
    privateIpAddress: clickhousePrivateIp
    vmSize: clickhouseVmSize
    dataDiskSizeGB: clickhouseDataDiskSizeGB
    adminUsername: clickhouseAdminUsername
    adminSshPublicKey: clickhouseAdminSshPublicKey
    clickhousePassword: clickhousePassword
    keyVaultName: keyVault.outputs.name
    tags: tags
  }
}

// Channel credentials go to Key Vault under fixed names; the app settings below reference them.
var channelSecrets = concat([
  { name: 'crm-signing-secret', value: crmSigningSecret }
  { name: 'wechat-signing-secret', value: wechatSigningSecret }
  { name: 'erp-signing-secret', value: erpSigningSecret }
  { name: 'calls-signing-secret', value: callsSigningSecret }
  { name: 'wecom-token', value: wecomToken }
  { name: 'wecom-encoding-aes-key', value: wecomEncodingAesKey }
  { name: 'wecom-secret', value: wecomSecret }
  { name: 'wecom-alert-webhook-url', value: wecomAlertWebhookUrl }
  { name: 'auth-session-key', value: authSessionKey }
  { name: 'logging-pii-hash-key', value: loggingPiiHashKey }
], empty(virtualNumbersAccessKeySecret) ? [] : [
  { name: 'virtual-numbers-access-key-secret', value: virtualNumbersAccessKeySecret }
])

module channelSecretValues 'modules/key-vault-secret.bicep' = [
  for secret in channelSecrets: {
    name: 'secret-${secret.name}'
    params: {
      keyVaultName: keyVault.outputs.name
      name: secret.name
      value: secret.value
    }
  }
]

// Versionless, so a rotated secret is picked up when App Service refreshes references (or on restart).
func kvRef(secretUri string) string => '@Microsoft.KeyVault(SecretUri=${secretUri})'
func channelRef(vaultUri string, secretName string) string => '@Microsoft.KeyVault(SecretUri=${vaultUri}secrets/${secretName})'

// Every setting the platform reads (API.md table, README "Configuration"), with ':' written as '__'.
var productSettings = {
  ConnectionStrings__Postgres: kvRef(postgres.outputs.connectionSecretUri)
  ConnectionStrings__Redis: kvRef(redis.outputs.connectionSecretUri)
  ConnectionStrings__ClickHouse: kvRef(clickhouse.outputs.connectionSecretUri)

  Channels__crm__SigningSecret: channelRef(keyVault.outputs.uri, 'crm-signing-secret')
  Channels__wechat__SigningSecret: channelRef(keyVault.outputs.uri, 'wechat-signing-secret')
  Channels__erp__SigningSecret: channelRef(keyVault.outputs.uri, 'erp-signing-secret')
  Channels__calls__SigningSecret: channelRef(keyVault.outputs.uri, 'calls-signing-secret')
  WeCom__CorpId: wecomCorpId
  WeCom__Token: channelRef(keyVault.outputs.uri, 'wecom-token')
  WeCom__EncodingAesKey: channelRef(keyVault.outputs.uri, 'wecom-encoding-aes-key')
  WeCom__Secret: channelRef(keyVault.outputs.uri, 'wecom-secret')
  WeCom__ApiBaseUrl: wecomApiBaseUrl
  WeCom__AlertWebhookUrl: channelRef(keyVault.outputs.uri, 'wecom-alert-webhook-url')
  WeCom__AgentId: wecomAgentId
  Auth__SessionKey: channelRef(keyVault.outputs.uri, 'auth-session-key')
  Auth__AllowedOrigins: authAllowedOrigins
  Logging__PiiHashKey: channelRef(keyVault.outputs.uri, 'logging-pii-hash-key')

  VirtualNumbers__ProviderBaseUrl: virtualNumbersProviderBaseUrl
  VirtualNumbers__AccessKeyId: virtualNumbersAccessKeyId
  VirtualNumbers__AccessKeySecret: empty(virtualNumbersAccessKeySecret) ? '' : channelRef(keyVault.outputs.uri, 'virtual-numbers-access-key-secret')
  VirtualNumbers__LegacyBaseUrl: virtualNumbersLegacyBaseUrl
  VirtualNumbers__GreyCities: virtualNumbersGreyCities

  Sync__MaxRetries: '5'
  Sync__FirstRetryInterval: '00:00:05'
  Summaries__FullRecalculationInterval: '01:00:00'
  Summaries__BatchSize: '500'
  Ingestion__MaxBodyBytes: '262144'
  Identity__FuzzyThreshold: '0.2'

  // Kafka triggers on Event Hubs carry the topics on Azure; the local host's Postgres-topic pollers stay off.
  Topics__ConsumersEnabled: 'false'
  // Names the Kafka trigger/output attributes resolve (AZURE.md): broker list, SASL password, consumer group.
  KafkaBrokerList: eventHubs.outputs.kafkaBrokerList
  EventHubConnectionString: kvRef(eventHubs.outputs.connectionSecretUri)
  KafkaConsumerGroup: consumerGroupName

  // Overrides host.json's extensions.durableTask.hubName whatever host.json says.
  AzureFunctionsJobHost__extensions__durableTask__hubName: durableTaskHubName
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  params: {
    location: location
    name: names.functionApp
    planName: names.plan
    hostingPlan: hostingPlan
    dotnetVersion: dotnetVersion
    instanceMemoryMB: flexInstanceMemoryMB
    maximumInstanceCount: flexMaximumInstanceCount
    alwaysReadyHttpInstances: flexAlwaysReadyHttpInstances
    premiumSkuName: premiumSkuName
    storageAccountName: storage.outputs.name
    deploymentContainerName: storage.outputs.deploymentContainerName
    contentShareName: toLower(names.functionApp)
    contentConnectionSecretUri: storage.outputs.contentConnectionSecretUri
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    subnetId: network.outputs.functionsSubnetId
    keyVaultName: keyVault.outputs.name
    productSettings: productSettings
    tags: tags
  }
  // The channel secrets are referenced by name, not by module output, so order them explicitly.
  dependsOn: [
    channelSecretValues
  ]
}

module staticWebApp 'modules/static-web-app.bicep' = {
  name: 'static-web-app'
  params: {
    location: staticWebAppLocation
    name: names.staticWebApp
    functionAppId: functionApp.outputs.id
    functionAppLocation: location
    tags: tags
  }
}

// ---------- outputs ----------

var baseUrl = 'https://${functionApp.outputs.defaultHostName}'

output functionAppName string = functionApp.outputs.name
output functionAppUrl string = baseUrl

@description('The console (/) and the WeCom sidebar (/sidebar/); /api reaches the Function App on the same origin.')
output webUrl string = 'https://${staticWebApp.outputs.defaultHostName}'
output staticWebAppName string = staticWebApp.outputs.name

@description('Webhook URL per channel: CRM, ERP and the WeChat form post here; set the wecom one as the WeCom callback URL.')
output webhookUrls object = {
  crm: '${baseUrl}/api/ingest/crm'
  wecom: '${baseUrl}/api/ingest/wecom'
  wechat: '${baseUrl}/api/ingest/wechat'
  erp: '${baseUrl}/api/ingest/erp'
}

@description('Public address all outbound calls leave from: add it to the WeCom app\'s trusted IPs.')
output egressIpAddress string = network.outputs.egressIpAddress

output keyVaultName string = keyVault.outputs.name
output postgresHost string = postgres.outputs.fqdn
output redisHost string = redis.outputs.hostName
output kafkaBrokerList string = eventHubs.outputs.kafkaBrokerList
output clickhousePrivateIp string = clickhouse.outputs.privateIpAddress
