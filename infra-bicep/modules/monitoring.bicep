// Log Analytics workspace + workspace-based Application Insights for the Function App.

@description('Azure region.')
param location string

@description('Name of the Log Analytics workspace.')
param logAnalyticsName string

@description('Name of the Application Insights component.')
param appInsightsName string

@description('Days Log Analytics keeps data (30 is the free-retention floor).')
param retentionInDays int = 30

param tags object = {}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: retentionInDays
  }
}

// Classic (non-workspace) Application Insights is retired; a workspace-based component is the only kind accepted now.
resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
  }
}

// Not a secret: the connection string only lets a caller send telemetry (Microsoft documents it as safe to embed).
output appInsightsConnectionString string = appInsights.properties.ConnectionString
output workspaceId string = workspace.id
