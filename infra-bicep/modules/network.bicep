// VNet for the Function App's outbound traffic and the ClickHouse VM, with one NAT gateway for egress.
//
// Why a VNet at all: ClickHouse has no managed Azure service, so it runs on a VM with a private address only, and
// the Function App reaches it through VNet integration. The NSG on the ClickHouse subnet admits port 8123 from the
// Function App's integration subnet and nothing else from the VNet.
//
// Why a NAT gateway: subnets give no implicit internet egress any more (default outbound access is being retired),
// the VM needs it to install ClickHouse, and WeCom only accepts API calls from the "trusted IPs" configured for the
// app — the NAT gateway's static public IP is the one address to register there.
//
// Postgres, Redis, Event Hubs, Storage and Key Vault stay on their public endpoints (TLS + keys/identity), which
// keeps this template small; private endpoints are the next step for a production network.

@description('Azure region.')
param location string

@description('Name prefix for network resources.')
param namePrefix string

@description('Address space of the VNet.')
param addressPrefix string = '10.40.0.0/16'

@description('Subnet the Function App integrates with (delegated to the plan\'s service).')
param functionsSubnetPrefix string = '10.40.0.0/24'

@description('Subnet holding the ClickHouse VM.')
param clickhouseSubnetPrefix string = '10.40.1.0/24'

@description('Flex Consumption integrates through Microsoft.App/environments, Elastic Premium through Microsoft.Web/serverFarms.')
@allowed([
  'FlexConsumption'
  'Premium'
])
param hostingPlan string

param tags object = {}

var functionsDelegation = hostingPlan == 'FlexConsumption' ? 'Microsoft.App/environments' : 'Microsoft.Web/serverFarms'

resource egressIp 'Microsoft.Network/publicIPAddresses@2024-05-01' = {
  name: '${namePrefix}-egress-ip'
  location: location
  tags: tags
  sku: { name: 'Standard' }
  properties: {
    publicIPAllocationMethod: 'Static'
    publicIPAddressVersion: 'IPv4'
  }
}

resource natGateway 'Microsoft.Network/natGateways@2024-05-01' = {
  name: '${namePrefix}-nat'
  location: location
  tags: tags
  sku: { name: 'Standard' }
  properties: {
    idleTimeoutInMinutes: 4
    publicIpAddresses: [
      { id: egressIp.id }
    ]
  }
}

resource clickhouseNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: '${namePrefix}-clickhouse-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: [
      {
        name: 'AllowClickHouseHttpFromFunctions'
        properties: {
          priority: 100
          direction: 'Inbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: functionsSubnetPrefix
          sourcePortRange: '*'
          destinationAddressPrefix: clickhouseSubnetPrefix
          destinationPortRange: '8123'
        }
      }
      {
        // The built-in AllowVnetInBound (65000) would let every VNet address reach every port, SSH included.
        name: 'DenyOtherVnetInbound'
        properties: {
          priority: 4000
          direction: 'Inbound'
          access: 'Deny'
          protocol: '*'
          sourceAddressPrefix: 'VirtualNetwork'
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '*'
        }
      }
    ]
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: '${namePrefix}-vnet'
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: [addressPrefix] }
    subnets: [
      {
        name: 'functions'
        properties: {
          addressPrefix: functionsSubnetPrefix
          defaultOutboundAccess: false
          natGateway: { id: natGateway.id }
          delegations: [
            {
              name: 'functions'
              properties: { serviceName: functionsDelegation }
            }
          ]
        }
      }
      {
        name: 'clickhouse'
        properties: {
          addressPrefix: clickhouseSubnetPrefix
          defaultOutboundAccess: false
          natGateway: { id: natGateway.id }
          networkSecurityGroup: { id: clickhouseNsg.id }
        }
      }
    ]
  }
}

output functionsSubnetId string = vnet.properties.subnets[0].id
output clickhouseSubnetId string = vnet.properties.subnets[1].id
@description('The one public address outbound calls leave from (register it as a WeCom trusted IP).')
output egressIpAddress string = egressIp.properties.ipAddress
