// The enforcer's Function App on the Flex Consumption plan (Linux, Node.js 22), with a
// system-assigned identity, identity-based storage and Entra-authenticated telemetry. Its app
// settings are exactly the settings the code reads (src/config/settings.ts), mapped for Azure by
// scripts/app-settings.mjs.

param location string
param tags object
param name string
param planName string
param storageAccountName string
param deploymentContainerName string
param applicationInsightsName string

@description('Flex Consumption scale limits.')
param maximumInstanceCount int = 40
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

// Defaults come from the code's own settings list (settings.generated.json, generated from
// src/config/settings.ts), so a default changes in one place. Parameter defaults may not
// reference variables, hence one loadJsonContent (of one value, by JSONPath) per parameter.

@allowed(['report', 'enforce'])
param enforcerMode string = 'report'
param watchedSubscriptionIds array
@description('Application (client) id of the system-assigned identity, for the loop guard. Bicep cannot read it (the site exposes only the principal id); leave empty unless known.')
param enforcerAppId string = loadJsonContent('settings.generated.json', '$.defaults.ENFORCER_APP_ID')
param allowedPrincipals array = []
param accessMaxPrincipals string = loadJsonContent('settings.generated.json', '$.defaults.ACCESS_MAX_PRINCIPALS')
param accessAdminsTag string = loadJsonContent('settings.generated.json', '$.defaults.ACCESS_ADMINS_TAG')
param accessUsersTag string = loadJsonContent('settings.generated.json', '$.defaults.ACCESS_USERS_TAG')
param accessExpiresTag string = loadJsonContent('settings.generated.json', '$.defaults.ACCESS_EXPIRES_TAG')
param exemptTag string = loadJsonContent('settings.generated.json', '$.defaults.EXEMPT_TAG')
param allowExemptions string = loadJsonContent('settings.generated.json', '$.defaults.ALLOW_EXEMPTIONS')
param policyAllowedClouds string = loadJsonContent('settings.generated.json', '$.defaults.POLICY_ALLOWED_CLOUDS')
param policyDeniedRegions string = loadJsonContent('settings.generated.json', '$.defaults.POLICY_DENIED_REGIONS')
param policyMinServerVersion string = loadJsonContent('settings.generated.json', '$.defaults.POLICY_MIN_SERVER_VERSION')
param policyMinClientBuild string = loadJsonContent('settings.generated.json', '$.defaults.POLICY_MIN_CLIENT_BUILD')
param policyAllowServerCore string = loadJsonContent('settings.generated.json', '$.defaults.POLICY_ALLOW_SERVER_CORE')
param policyAllowArm64 string = loadJsonContent('settings.generated.json', '$.defaults.POLICY_ALLOW_ARM64')
param enforceLinux string = loadJsonContent('settings.generated.json', '$.defaults.ENFORCE_LINUX')
param aadLinuxExtensionVersion string = loadJsonContent('settings.generated.json', '$.defaults.AAD_LINUX_EXTENSION_VERSION')
param aadExtensionVersion string = loadJsonContent('settings.generated.json', '$.defaults.AAD_EXTENSION_VERSION')
param aadExtensionMdmId string = loadJsonContent('settings.generated.json', '$.defaults.AAD_EXTENSION_MDM_ID')
param auditSchedule string = loadJsonContent('settings.generated.json', '$.defaults.AUDIT_SCHEDULE')
param reconcileQueueName string = loadJsonContent('settings.generated.json', '$.defaults.RECONCILE_QUEUE_NAME')
param tablePrefix string = loadJsonContent('settings.generated.json', '$.defaults.TABLE_PREFIX')
@description('ARM endpoint of the cloud the app runs in (environment().resourceManager by default).')
param armEndpoint string = environment().resourceManager
@description('Audience of the app\'s ARM tokens: the cloud\'s Resource Manager (environment().resourceManager by default).')
param armAudience string = environment().resourceManager
@description('Microsoft Graph endpoint and token audience of the cloud (https://graph.microsoft.us in US Government L4, https://microsoftgraph.chinacloudapi.cn in 21Vianet). Bicep\'s environment() names no Microsoft Graph endpoint, so it is a parameter.')
param graphEndpoint string = loadJsonContent('settings.generated.json', '$.defaults.GRAPH_ENDPOINT')
@description('DEVICE_CLEANUP: off (default), report or enforce. enforce needs the Graph permission Device.ReadWrite.All granted by an admin (README "The Entra device").')
@allowed(['off', 'report', 'enforce'])
param deviceCleanup string = loadJsonContent('settings.generated.json', '$.defaults.DEVICE_CLEANUP')

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  // azd finds the app to publish by this tag (service "enforcer" in azure.yaml).
  tags: union(tags, { 'azd-service-name': 'enforcer' })
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

// A separate config resource, not siteConfig.appSettings: ENFORCER_PRINCIPAL_ID is the site's own
// identity, which exists only once the site does. Declared inside the site it would be a cycle;
// as a child resource ARM deploys it after the site, with the principal id known.
// The names here must equal infra/app/settings.generated.json "names" (checked by test/infra).
resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: {
    // Identity-based storage for the host and the code. Service URIs, not __accountName: an account
    // name makes the host derive *.core.windows.net endpoints, which exist in public Azure only.
    AzureWebJobsStorage__queueServiceUri: 'https://${storageAccountName}.queue.${environment().suffixes.storage}'
    AzureWebJobsStorage__tableServiceUri: 'https://${storageAccountName}.table.${environment().suffixes.storage}'
    ENFORCER_MODE: enforcerMode
    WATCHED_SUBSCRIPTION_IDS: join(watchedSubscriptionIds, ',')
    ENFORCER_PRINCIPAL_ID: site.identity.principalId
    ENFORCER_APP_ID: enforcerAppId
    ACCESS_ALLOWED_PRINCIPALS: join(allowedPrincipals, ',')
    ACCESS_MAX_PRINCIPALS: accessMaxPrincipals
    ACCESS_ADMINS_TAG: accessAdminsTag
    ACCESS_USERS_TAG: accessUsersTag
    ACCESS_EXPIRES_TAG: accessExpiresTag
    EXEMPT_TAG: exemptTag
    ALLOW_EXEMPTIONS: allowExemptions
    POLICY_ALLOWED_CLOUDS: policyAllowedClouds
    POLICY_DENIED_REGIONS: policyDeniedRegions
    POLICY_MIN_SERVER_VERSION: policyMinServerVersion
    POLICY_MIN_CLIENT_BUILD: policyMinClientBuild
    POLICY_ALLOW_SERVER_CORE: policyAllowServerCore
    POLICY_ALLOW_ARM64: policyAllowArm64
    ENFORCE_LINUX: enforceLinux
    AAD_LINUX_EXTENSION_VERSION: aadLinuxExtensionVersion
    AAD_EXTENSION_VERSION: aadExtensionVersion
    AAD_EXTENSION_MDM_ID: aadExtensionMdmId
    AUDIT_SCHEDULE: auditSchedule
    AUDIT_SOURCE: loadJsonContent('settings.generated.json', '$.defaults.AUDIT_SOURCE')
    AUDIT_CONFIRM_SLICES: loadJsonContent('settings.generated.json', '$.defaults.AUDIT_CONFIRM_SLICES')
    RECONCILE_QUEUE_NAME: reconcileQueueName
    TABLE_PREFIX: tablePrefix
    // environment().resourceManager ends with '/'; the code's default has none.
    ARM_ENDPOINT: endsWith(armEndpoint, '/') ? take(armEndpoint, max(length(armEndpoint) - 1, 0)) : armEndpoint
    ARM_AUDIENCE: endsWith(armAudience, '/') ? take(armAudience, max(length(armAudience) - 1, 0)) : armAudience
    // Only the local ARM emulator needs an extra CA; Azure's endpoints are publicly trusted.
    ARM_CA_FILE: ''
    ARM_MAX_RETRIES: loadJsonContent('settings.generated.json', '$.defaults.ARM_MAX_RETRIES')
    ARM_RETRY_DELAY_MS: loadJsonContent('settings.generated.json', '$.defaults.ARM_RETRY_DELAY_MS')
    FOLLOW_UP_DELAY_MS: loadJsonContent('settings.generated.json', '$.defaults.FOLLOW_UP_DELAY_MS')
    FOLLOW_UP_MAX_DELAY_MS: loadJsonContent('settings.generated.json', '$.defaults.FOLLOW_UP_MAX_DELAY_MS')
    LEASE_DURATION_MS: loadJsonContent('settings.generated.json', '$.defaults.LEASE_DURATION_MS')
    PRINCIPAL_NOT_FOUND_WINDOW_MS: loadJsonContent('settings.generated.json', '$.defaults.PRINCIPAL_NOT_FOUND_WINDOW_MS')
    DEVICE_CONFIRMATION: loadJsonContent('settings.generated.json', '$.defaults.DEVICE_CONFIRMATION')
    DEVICE_JOIN_WAIT_MS: loadJsonContent('settings.generated.json', '$.defaults.DEVICE_JOIN_WAIT_MS')
    DEVICE_CLEANUP: deviceCleanup
    GRAPH_ENDPOINT: graphEndpoint
    GRAPH_AUDIENCE: graphEndpoint
    LEASE_RETRY_DELAY_MS: loadJsonContent('settings.generated.json', '$.defaults.LEASE_RETRY_DELAY_MS')
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__blobServiceUri: 'https://${storageAccountName}.blob.${environment().suffixes.storage}'
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
    // The component refuses key-based ingestion (disableLocalAuth): telemetry is sent with the
    // system-assigned identity (no ClientId: that form is for a user-assigned identity).
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
  }
}

output name string = site.name
output id string = site.id
output principalId string = site.identity.principalId
