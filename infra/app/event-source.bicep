// Per watched subscription: its Event Grid system topic. Azure allows ONE system topic per source,
// and one appears (often in Default-EventGrid) as soon as anyone subscribes to the subscription's
// events. So either the topic already exists and is only referenced (useExistingTopic), or this
// module creates a resource group for it and the topic.
targetScope = 'subscription'

param location string
param tags object
@description('Resource group of the topic: the existing topic\'s, or the one to create.')
param resourceGroupName string
@description('Name of the topic: the existing topic\'s, or the one to create.')
param topicName string
@description('true: the subscription already has a system topic (resourceGroupName/topicName); use it as it is.')
param useExistingTopic bool = false

resource eventsGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = if (!useExistingTopic) {
  name: resourceGroupName
  location: location
  tags: tags
}

module topic 'event-topic.bicep' = if (!useExistingTopic) {
  name: 'aadlogin-topic-${uniqueString(subscription().id, topicName)}'
  scope: eventsGroup
  params: {
    tags: tags
    name: topicName
  }
}

// Not modified: it may carry other teams' event subscriptions. Dead-lettering needs its
// system-assigned identity; without one the deployment stops and says how to add it.
resource existingTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = if (useExistingTopic) {
  name: topicName
  scope: resourceGroup(resourceGroupName)
}

output resourceGroupName string = resourceGroupName
output topicName string = topicName
output topicPrincipalId string = useExistingTopic
  ? existingTopic!.?identity.?principalId ?? fail('System topic ${topicName} (resource group ${resourceGroupName}, subscription ${subscription().subscriptionId}) has no system-assigned identity, which dead-lettering needs. Enable it: az eventgrid system-topic update --subscription ${subscription().subscriptionId} -g ${resourceGroupName} -n ${topicName} --identity systemassigned')
  : topic!.outputs.principalId
