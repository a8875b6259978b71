// aadlogin-enforcer: everything one `azd up` (or `az deployment sub create`) deploys.
// Home subscription: a resource group with the Function App, its storage and monitoring.
// Each watched subscription: the enforcer's least-privilege roles and an Event Grid system topic
// (its existing one, or one created here) whose events reach the onResourceWrite function.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; names and tags of all resources derive from it.')
param environmentName string

@minLength(1)
@description('Region of the Function App (one that offers Flex Consumption) and its resources.')
@metadata({ azd: { type: 'location' } })
param location string

@description('Subscription ids whose Windows VMs are enforced. Empty: only the subscription deployed to. To add one later, add it here and deploy again.')
param watchedSubscriptionIds array = []

@description('report (default): record what would be done and change nothing. enforce: make the changes.')
@allowed(['report', 'enforce'])
param enforcerMode string = 'report'

@description('Object ids of the users/groups VM tags may grant login to. Empty: tags grant nobody.')
param allowedPrincipals array = []

@description('NCRONTAB (6 fields) schedule of the drift audit.')
param auditSchedule string = loadJsonContent('app/settings.generated.json', '$.defaults.AUDIT_SCHEDULE')

@description('Comma-separated clouds whose regions are eligible.')
param policyAllowedClouds string = loadJsonContent('app/settings.generated.json', '$.defaults.POLICY_ALLOWED_CLOUDS')
@description('Comma-separated regions never eligible.')
param policyDeniedRegions string = loadJsonContent('app/settings.generated.json', '$.defaults.POLICY_DENIED_REGIONS')
@description('Lowest Windows Server release eligible.')
param policyMinServerVersion string = loadJsonContent('app/settings.generated.json', '$.defaults.POLICY_MIN_SERVER_VERSION')
@description('Lowest Windows 10/11 build eligible.')
param policyMinClientBuild string = loadJsonContent('app/settings.generated.json', '$.defaults.POLICY_MIN_CLIENT_BUILD')
@allowed(['true', 'false'])
param policyAllowServerCore string = loadJsonContent('app/settings.generated.json', '$.defaults.POLICY_ALLOW_SERVER_CORE')
@allowed(['true', 'false'])
param policyAllowArm64 string = loadJsonContent('app/settings.generated.json', '$.defaults.POLICY_ALLOW_ARM64')
@allowed(['true', 'false'])
param allowExemptions string = loadJsonContent('app/settings.generated.json', '$.defaults.ALLOW_EXEMPTIONS')
@description('Whether Linux VMs are enforced with AADSSHLoginForLinux (off by default).')
@allowed(['true', 'false'])
param enforceLinux string = loadJsonContent('app/settings.generated.json', '$.defaults.ENFORCE_LINUX')
@description('typeHandlerVersion of AADSSHLoginForLinux.')
param aadLinuxExtensionVersion string = loadJsonContent('app/settings.generated.json', '$.defaults.AAD_LINUX_EXTENSION_VERSION')
@description('typeHandlerVersion of AADLoginForWindows.')
param aadExtensionVersion string = loadJsonContent('app/settings.generated.json', '$.defaults.AAD_EXTENSION_VERSION')
@description('Optional mdmId of the extension (Intune enrollment); empty for none.')
param aadExtensionMdmId string = loadJsonContent('app/settings.generated.json', '$.defaults.AAD_EXTENSION_MDM_ID')

@description('Event Grid system topics that already exist for watched subscriptions, keyed by subscription id: { "<subscription id>": { "resourceGroupName": "Default-EventGrid", "name": "<topic name>" } }. Azure allows one system topic per subscription and creates one (often in Default-EventGrid) when anyone subscribes to its events; such a topic is referenced, not modified, and needs a system-assigned identity (dead-lettering). A subscription not listed here gets its own topic in rg-<env>-aadlogin-events.')
param existingSystemTopics object = {}

@description('Event Grid refuses a subscription to a function that is not deployed yet: false before the code is published, true after (azure.yaml workflows.up provisions with false, deploys, then provisions with true).')
param eventSubscriptionsEnabled bool = false

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName, application: 'aadlogin-enforcer' }
var watched = empty(watchedSubscriptionIds) ? [subscription().subscriptionId] : watchedSubscriptionIds
var tablePrefix = loadJsonContent('app/settings.generated.json', '$.defaults.TABLE_PREFIX')
var reconcileQueueName = loadJsonContent('app/settings.generated.json', '$.defaults.RECONCILE_QUEUE_NAME')
var eventsResourceGroupName = 'rg-${environmentName}-aadlogin-events'
var topicName = 'aadlogin-${environmentName}-subscription-events'
// Where each watched subscription's system topic is (same order as `watched`): an existing one, or ours.
// A malformed entry, or one for a subscription that is not watched (a typo would otherwise make the
// deployment try to create a second topic), stops the deployment with a message that says so.
var unwatchedTopicKeys = filter(objectKeys(existingSystemTopics), key => !contains(map(watched, s => toLower(s)), toLower(key)))
var topics = [
  for subscriptionId in watched: !empty(unwatchedTopicKeys)
    ? fail('existingSystemTopics names subscriptions that are not watched: ${join(unwatchedTopicKeys, ', ')}. Use the subscription ids of watchedSubscriptionIds as keys.')
    : contains(existingSystemTopics, subscriptionId)
        ? {
            useExisting: true
            resourceGroupName: existingSystemTopics[subscriptionId].?resourceGroupName ?? fail('existingSystemTopics["${subscriptionId}"] needs "resourceGroupName" (the topic\'s resource group, often Default-EventGrid).')
            name: existingSystemTopics[subscriptionId].?name ?? fail('existingSystemTopics["${subscriptionId}"] needs "name" (the system topic\'s name).')
          }
        : {
            useExisting: false
            resourceGroupName: eventsResourceGroupName
            name: topicName
          }
]
// Names known at compile time are passed as such (not as module outputs), so what-if can predict them.
var storageAccountName = 'st${resourceToken}'
var applicationInsightsName = 'appi-${resourceToken}'
var deploymentContainerName = 'app-package'
var deadLetterContainerName = 'eventgrid-deadletter'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: applicationInsightsName
  }
}

module monitoringAccess 'app/monitoring-access.bicep' = {
  name: 'monitoring-access'
  scope: rg
  dependsOn: [
    monitoring
  ]
  params: {
    applicationInsightsName: applicationInsightsName
    #disable-next-line what-if-short-circuiting
    principalId: function.outputs.principalId
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: tags
    name: storageAccountName
    tablePrefix: tablePrefix
    reconcileQueueName: reconcileQueueName
    deploymentContainerName: deploymentContainerName
    deadLetterContainerName: deadLetterContainerName
  }
}

module function 'app/function.bicep' = {
  name: 'function'
  scope: rg
  dependsOn: [
    storage
    monitoring
  ]
  params: {
    location: location
    tags: tags
    name: 'func-${resourceToken}'
    planName: 'plan-${resourceToken}'
    storageAccountName: storageAccountName
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: applicationInsightsName
    enforcerMode: enforcerMode
    watchedSubscriptionIds: watched
    allowedPrincipals: allowedPrincipals
    auditSchedule: auditSchedule
    policyAllowedClouds: policyAllowedClouds
    policyDeniedRegions: policyDeniedRegions
    policyMinServerVersion: policyMinServerVersion
    policyMinClientBuild: policyMinClientBuild
    policyAllowServerCore: policyAllowServerCore
    policyAllowArm64: policyAllowArm64
    allowExemptions: allowExemptions
    enforceLinux: enforceLinux
    aadLinuxExtensionVersion: aadLinuxExtensionVersion
    aadExtensionVersion: aadExtensionVersion
    aadExtensionMdmId: aadExtensionMdmId
    reconcileQueueName: reconcileQueueName
    tablePrefix: tablePrefix
  }
}

module storageAccess 'app/storage-access.bicep' = {
  name: 'storage-access'
  scope: rg
  dependsOn: [
    storage
  ]
  params: {
    storageAccountName: storageAccountName
    // The site's identity exists only once the site does: a run-time value by nature.
    #disable-next-line what-if-short-circuiting
    principalId: function.outputs.principalId
  }
}

module enforcerRoles 'app/enforcer-roles.bicep' = [
  for subscriptionId in watched: {
    name: 'aadlogin-roles-${uniqueString(subscriptionId, environmentName)}'
    scope: subscription(subscriptionId)
    params: {
      environmentName: environmentName
      #disable-next-line what-if-short-circuiting
      principalId: function.outputs.principalId
      allowedPrincipals: allowedPrincipals
    }
  }
]

module eventSources 'app/event-source.bicep' = [
  for (subscriptionId, i) in watched: {
    name: 'aadlogin-events-${uniqueString(subscriptionId, environmentName)}'
    scope: subscription(subscriptionId)
    params: {
      location: location
      tags: tags
      resourceGroupName: topics[i].resourceGroupName
      topicName: topics[i].name
      useExistingTopic: topics[i].useExisting
    }
  }
]

module deadLetterAccess 'app/deadletter-access.bicep' = [
  for (subscriptionId, i) in watched: {
    name: 'aadlogin-deadletter-${uniqueString(subscriptionId, environmentName)}'
    scope: rg
    dependsOn: [
      storage
    ]
    params: {
      storageAccountName: storageAccountName
      deadLetterContainerName: deadLetterContainerName
      // Like the site's, the topic's identity is known only after the topic exists.
      #disable-next-line what-if-short-circuiting
      topicPrincipalId: eventSources[i].outputs.topicPrincipalId
    }
  }
]

module eventSubscriptions 'app/event-subscription.bicep' = [
  for (subscriptionId, i) in watched: if (eventSubscriptionsEnabled) {
    name: 'aadlogin-eventsub-${uniqueString(subscriptionId, environmentName)}'
    scope: resourceGroup(subscriptionId, topics[i].resourceGroupName)
    dependsOn: [
      eventSources
      deadLetterAccess
    ]
    params: {
      topicName: topics[i].name
      functionAppId: function.outputs.id
      storageAccountId: storage.outputs.id
      deadLetterContainerName: deadLetterContainerName
    }
  }
]

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = function.outputs.name
output ENFORCER_PRINCIPAL_ID string = function.outputs.principalId
output WATCHED_SUBSCRIPTION_IDS string = join(watched, ',')
