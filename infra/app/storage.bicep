// The enforcer's own storage account: host storage (AzureWebJobsStorage, identity-based), the
// tables and queues the code uses, the Flex Consumption deployment package container and the
// container Event Grid dead-letters undeliverable events into. No account keys anywhere.

param location string
param tags object
param name string
@description('TABLE_PREFIX: the code names its tables {prefix}Vms, {prefix}Log, {prefix}AuditRuns, {prefix}Events.')
param tablePrefix string
@description('RECONCILE_QUEUE_NAME; the Functions host moves messages that failed maxDequeueCount times to {name}-poison.')
param reconcileQueueName string
param deploymentContainerName string
param deadLetterContainerName string

var tableNames = [
  '${tablePrefix}Vms'
  '${tablePrefix}Log'
  '${tablePrefix}AuditRuns'
  '${tablePrefix}Leases'
]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    // Identity-based access only: the app, the Flex deployment and Event Grid use Entra ID.
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    defaultToOAuthAuthentication: true
    dnsEndpointType: 'Standard'
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }

  resource blobServices 'blobServices' = {
    name: 'default'

    resource deploymentContainer 'containers' = {
      name: deploymentContainerName
    }

    resource deadLetterContainer 'containers' = {
      name: deadLetterContainerName
    }
  }

  resource tableServices 'tableServices' = {
    name: 'default'

    resource tables 'tables' = [
      for tableName in tableNames: {
        name: tableName
      }
    ]
  }

  resource queueServices 'queueServices' = {
    name: 'default'

    resource reconcileQueue 'queues' = {
      name: reconcileQueueName
    }

    resource poisonQueue 'queues' = {
      name: '${reconcileQueueName}-poison'
    }
  }
}

output name string = storage.name
output id string = storage.id
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output deploymentContainerName string = deploymentContainerName
output deadLetterContainerName string = deadLetterContainerName
