// Lets one Event Grid system topic's managed identity write dead letters into the dead-letter
// container, and nowhere else in the account.

param storageAccountName string
param deadLetterContainerName string
param topicPrincipalId string

// Storage Blob Data Contributor: Event Grid writes dead-lettered events as blobs.
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName

  resource blobServices 'blobServices' existing = {
    name: 'default'

    resource deadLetterContainer 'containers' existing = {
      name: deadLetterContainerName
    }
  }
}

resource deadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobServices::deadLetterContainer.id, topicPrincipalId, subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor))
  scope: storage::blobServices::deadLetterContainer
  properties: {
    principalId: topicPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
  }
}
