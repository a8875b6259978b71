// The Event Grid system topic of one Azure subscription (ARM write/delete events of all its
// resources). There can be only one system topic per source, and it must live in that subscription.

param tags object
param name string

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: name
  // Subscription-level system topics are global.
  location: 'global'
  tags: tags
  // Its own identity writes dead letters to the enforcer's storage (no keys, no SAS).
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: subscription().id
    topicType: 'Microsoft.Resources.Subscriptions'
  }
}

output name string = topic.name
output principalId string = topic.identity.principalId
