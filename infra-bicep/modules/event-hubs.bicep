// Event Hubs namespace with its Kafka endpoint: one event hub per topic of shared/Cdp.Shared/Messaging/Topics.cs,
// one consumer group for the Function App, and one Listen+Send rule whose connection string is the Kafka SASL
// password ($ConnectionString as user name). Topics are created here because the Send/Listen rule cannot create them.

@description('Azure region.')
param location string

@description('Globally unique namespace name (6-50 characters).')
param name string

@description('Standard or higher: Basic has no Kafka endpoint.')
@allowed([
  'Standard'
  'Premium'
])
param skuName string = 'Standard'

@description('Throughput units (Standard) or processing units (Premium).')
param capacity int = 1

@description('Topic names; each becomes an event hub.')
param topics array

@description('Partitions per event hub. Order holds per partition (key by customer); Standard cannot change it later.')
@minValue(1)
@maxValue(32)
param partitionCount int = 4

@description('Hours an event is kept (Standard allows up to 168).')
@minValue(1)
param retentionHours int = 72

@description('Consumer group the Function App\'s Kafka triggers join (the Kafka group.id).')
param consumerGroupName string

@description('Vault that receives the connection string.')
param keyVaultName string

param tags object = {}

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuName
    capacity: capacity
  }
  properties: {
    kafkaEnabled: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    // The Kafka extension signs in with a SAS connection string (SASL PLAIN), so local auth must stay on.
    disableLocalAuth: false
    isAutoInflateEnabled: false
  }
}

resource hubs 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = [
  for topic in topics: {
    parent: namespace
    name: topic
    properties: {
      partitionCount: partitionCount
      retentionDescription: {
        cleanupPolicy: 'Delete'
        retentionTimeInHours: retentionHours
      }
    }
  }
]

resource consumerGroups 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = [
  for (topic, i) in topics: {
    parent: hubs[i]
    name: consumerGroupName
    properties: {}
  }
]

// Namespace-level, so one connection string covers every topic; no Manage right (topics are not created at runtime).
resource functionsRule 'Microsoft.EventHub/namespaces/authorizationRules@2024-01-01' = {
  parent: namespace
  name: 'functions-listen-send'
  properties: {
    rights: [
      'Listen'
      'Send'
    ]
  }
}

module connectionSecret 'key-vault-secret.bicep' = {
  name: 'secret-eventhubs-connection-string'
  params: {
    keyVaultName: keyVaultName
    name: 'eventhubs-connection-string'
    value: functionsRule.listKeys().primaryConnectionString
  }
}

// serviceBusEndpoint is https://<namespace>.servicebus.windows.net:443/ in Azure global and the local suffix in
// sovereign clouds (servicebus.chinacloudapi.cn), so the host is taken from it rather than spelled out.
var namespaceHost = split(split(namespace.properties.serviceBusEndpoint, '/')[2], ':')[0]

@description('Kafka bootstrap server list for the Kafka extension: <namespace>.servicebus.windows.net:9093.')
output kafkaBrokerList string = '${namespaceHost}:9093'
output connectionSecretUri string = connectionSecret.outputs.uri
