// Azure Managed Redis (Microsoft.Cache/redisEnterprise, Balanced/Memory/Compute SKUs): the customer-360 cache and
// the per-entity summary locks. Classic Azure Cache for Redis (Microsoft.Cache/redis) takes no new customers.

@description('Azure region (Azure Managed Redis is not offered in every region).')
param location string

@description('Globally unique cache name.')
param name string

@description('Azure Managed Redis SKU; Balanced_B0/B1 are the small, cheap ones.')
param skuName string = 'Balanced_B1'

@description('Replicate to a second node. Off halves the price; the app survives a Redis outage by reading Postgres.')
@allowed([
  'Enabled'
  'Disabled'
])
param highAvailability string = 'Enabled'

// EnterpriseCluster puts one endpoint in front of the shards and speaks the classic (non-cluster) protocol, which is
// what the app's client (StackExchange.Redis 1.2.6, configured as a single server) expects; it also keeps multi-key
// commands working across slots. OSSCluster is faster at scale but hands the client the shard map.
@allowed([
  'EnterpriseCluster'
  'OSSCluster'
])
param clusteringPolicy string = 'EnterpriseCluster'

@description('Vault that receives the connection string.')
param keyVaultName string

param tags object = {}

resource cluster 'Microsoft.Cache/redisEnterprise@2025-07-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
  }
  properties: {
    minimumTlsVersion: '1.2'
    highAvailability: highAvailability
    publicNetworkAccess: 'Enabled'
  }
}

resource database 'Microsoft.Cache/redisEnterprise/databases@2025-07-01' = {
  parent: cluster
  name: 'default'
  properties: {
    clientProtocol: 'Encrypted'
    port: 10000
    clusteringPolicy: clusteringPolicy
    // The cache holds only rebuildable data with TTLs (360 views, locks): evict those first under memory pressure.
    evictionPolicy: 'VolatileLRU'
    // New Azure Managed Redis databases default to Entra-only auth; the app authenticates with the access key.
    accessKeysAuthentication: 'Enabled'
  }
}

module connectionSecret 'key-vault-secret.bicep' = {
  name: 'secret-redis-connection-string'
  params: {
    keyVaultName: keyVaultName
    name: 'redis-connection-string'
    // StackExchange.Redis syntax: TLS on port 10000; abortConnect=false so the app starts while Redis is down.
    value: '${cluster.properties.hostName}:10000,password=${database.listKeys().primaryKey},ssl=True,abortConnect=False'
  }
}

output hostName string = cluster.properties.hostName
output connectionSecretUri string = connectionSecret.outputs.uri
