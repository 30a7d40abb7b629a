// The people's surfaces (web/: the console at /, the WeCom sidebar at /sidebar/) on a Static Web App, with the Function
// App linked as its /api backend: the pages and the API share one origin, so the session cookie (SameSite=Lax,
// HttpOnly) and the CSRF header work as on the local host. Linked backends need the Standard plan. The content is
// published separately (README: "Publishing web/").

@description('Static Web Apps run in a few regions only; the API stays in the Function App\'s region.')
@allowed([
  'eastasia'
  'eastus2'
  'centralus'
  'westus2'
  'westeurope'
])
param location string

param name string

@description('Resource id of the Function App that serves /api.')
param functionAppId string

@description('Region of the Function App.')
param functionAppLocation string

param tags object = {}

resource site 'Microsoft.Web/staticSites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    // No repository: the SWA CLI publishes web/dist with the deployment token.
    allowConfigFileUpdates: true
    stagingEnvironmentPolicy: 'Disabled'
    publicNetworkAccess: 'Enabled'
  }
}

resource backend 'Microsoft.Web/staticSites/linkedBackends@2024-04-01' = {
  parent: site
  name: 'functions'
  properties: {
    backendResourceId: functionAppId
    region: functionAppLocation
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostname
