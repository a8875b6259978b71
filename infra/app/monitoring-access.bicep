// Lets the Function App's identity send telemetry to its Application Insights component, which
// accepts Entra ID-authenticated ingestion only (DisableLocalAuth in monitoring.bicep).

param applicationInsightsName string
param principalId string

// Monitoring Metrics Publisher: despite its name, the role Application Insights requires for
// Entra-authenticated ingestion of all telemetry, scoped to the one component.
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource telemetryPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, principalId, subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher))
  scope: applicationInsights
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
  }
}
