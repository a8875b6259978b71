// Routes one subscription's VM writes/deletes and tag writes to the onResourceWrite function.
// Deployed into the resource group of the system topic (event-source.bicep).

param topicName string
param name string = 'aadlogin-enforcer'
@description('Resource id of the Function App; the event goes to its onResourceWrite function.')
param functionAppId string
param storageAccountId string
param deadLetterContainerName string

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: topicName
}

resource eventSubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: topic
  name: name
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        // Event Grid checks at creation that this function exists: deploy the code first
        // (see eventSubscriptionsEnabled in main.bicep).
        resourceId: '${functionAppId}/functions/onResourceWrite'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: [
        'Microsoft.Resources.ResourceWriteSuccess'
        'Microsoft.Resources.ResourceDeleteSuccess'
      ]
      advancedFilters: [
        {
          // Only what can change a VM's desired state: the VM itself and its tags.
          operatorType: 'StringIn'
          key: 'data.operationName'
          values: [
            'Microsoft.Compute/virtualMachines/write'
            'Microsoft.Compute/virtualMachines/delete'
            'Microsoft.Resources/tags/write'
          ]
        }
        {
          // The enforcer's own extension installs and role assignments would otherwise come back
          // as events (a subject prefix on virtualMachines also matches .../extensions/...).
          operatorType: 'StringNotContains'
          key: 'subject'
          values: [
            '/extensions/'
            '/providers/Microsoft.Authorization/'
          ]
        }
      ]
    }
    // Event Grid's documented maximum: 30 attempts within 24 hours, then dead-letter.
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: storageAccountId
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}
