// Azure Database for PostgreSQL Flexible Server: the system of record (ingestion receipts, Lead/Contact/Account,
// sync tasks, ...). The app creates its schema itself on start (MigrateOnStart), including pg_trgm, which Azure only
// lets a database create once the server allow-lists it in azure.extensions.
//
// Network: public access, closed to everything but Azure-internal callers ("Allow public access from any Azure
// service", the 0.0.0.0 rule) plus the NAT gateway's egress IP the Function App leaves from. Logins still need the
// password, and TLS is required. VNet injection (a delegated subnet + private DNS zone) is the production upgrade.

@description('Azure region.')
param location string

@description('Globally unique server name.')
param name string

@description('Administrator login; the app connects with it too (create a narrower role after the first deploy if wanted).')
param administratorLogin string

@secure()
param administratorPassword string

@description('PostgreSQL major version.')
param version string = '16'

@description('Compute SKU, e.g. Standard_B2s (Burstable) or Standard_D2ds_v5 (GeneralPurpose).')
param skuName string = 'Standard_B2s'

@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param skuTier string = 'Burstable'

@description('Storage in GiB; grows automatically.')
param storageSizeGB int = 32

@description('Database the app uses.')
param databaseName string = 'cdp'

@description('Extra public address allowed through the firewall (the NAT gateway egress IP); empty for none.')
param egressIpAddress string = ''

@description('Vault that receives the connection string.')
param keyVaultName string

param tags object = {}

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2025-08-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    version: version
    administratorLogin: administratorLogin
    administratorLoginPassword: administratorPassword
    authConfig: {
      activeDirectoryAuth: 'Disabled'
      passwordAuth: 'Enabled'
    }
    storage: {
      storageSizeGB: storageSizeGB
      autoGrow: 'Enabled'
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: { mode: 'Disabled' }
    network: { publicNetworkAccess: 'Enabled' }
  }
}

// Identity resolution's fuzzy company-name match uses pg_trgm; CREATE EXTENSION fails unless it is allow-listed here.
resource extensions 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2025-08-01' = {
  parent: server
  name: 'azure.extensions'
  properties: {
    value: 'PG_TRGM'
    source: 'user-override'
  }
}

// en_US.utf8 classifies CJK characters as letters, so pg_trgm builds trigrams from Chinese names (the local
// cluster uses C.UTF-8 for the same reason; plain "C" would not).
resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2025-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
  // Configuration changes and database creation both lock the server; serialise them.
  dependsOn: [extensions]
}

resource allowAzureServices 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2025-08-01' = {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
  dependsOn: [database]
}

resource allowEgress 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2025-08-01' = if (!empty(egressIpAddress)) {
  parent: server
  name: 'AllowFunctionAppEgress'
  properties: {
    startIpAddress: egressIpAddress
    endIpAddress: egressIpAddress
  }
  dependsOn: [allowAzureServices]
}

module connectionSecret 'key-vault-secret.bicep' = {
  name: 'secret-postgres-connection-string'
  params: {
    keyVaultName: keyVaultName
    name: 'postgres-connection-string'
    // Same pool size as local.settings.sample.json. SSL Mode=VerifyFull: TLS (the server refuses plaintext) with the
    // server's certificate checked against the system's trusted roots and its host name, so no one in between can pose as it.
    value: 'Host=${server.properties.fullyQualifiedDomainName};Port=5432;Database=${databaseName};Username=${administratorLogin};Password=${administratorPassword};SSL Mode=VerifyFull;Maximum Pool Size=64'
  }
}

output fqdn string = server.properties.fullyQualifiedDomainName
output connectionSecretUri string = connectionSecret.outputs.uri
