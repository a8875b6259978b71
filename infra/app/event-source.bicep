// Per watched subscription: a resource group for its Event Grid system topic, and the topic.
targetScope = 'subscription'

param location string
param tags object
param resourceGroupName string
param topicName string

resource eventsGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: resourceGroupName
  location: location
  tags: tags
}

module topic 'event-topic.bicep' = {
  name: 'aadlogin-topic-${uniqueString(subscription().id, topicName)}'
  scope: eventsGroup
  params: {
    tags: tags
    name: topicName
  }
}

output resourceGroupName string = eventsGroup.name
output topicName string = topic.outputs.name
output topicPrincipalId string = topic.outputs.principalId
