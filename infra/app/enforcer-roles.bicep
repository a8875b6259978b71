// What the enforcer's identity may do in ONE watched subscription, and nothing more:
//  1. a custom role with only the compute actions the code performs;
//  2. Role Based Access Control Administrator, constrained by an ABAC condition to writing and
//     deleting assignments of the two VM login roles (any other role id is refused by ARM).
targetScope = 'subscription'

param environmentName string
param principalId string

// Actions of the custom role. Each is a real ARM operation; the code needs each:
var enforcerActions = [
  'Microsoft.Compute/virtualMachines/read' // observe the VM (identity, image, tags, power state)
  'Microsoft.Compute/virtualMachines/instanceView/read' // OS name/version of custom images, extension status
  'Microsoft.Compute/virtualMachines/write' // PATCH the system-assigned identity on
  'Microsoft.Compute/virtualMachines/extensions/read' // observe AADLoginForWindows
  'Microsoft.Compute/virtualMachines/extensions/write' // install AADLoginForWindows
  'Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action' // PATCHing a VM that keeps user-assigned identities
  'Microsoft.Authorization/roleAssignments/read' // list the login assignments at the VM scope
]

// Role Based Access Control Administrator (built-in).
var rbacAdministrator = 'f58310d9-a9f6-439a-9e8d-f62e7b41a168'

resource enforcerRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  // Deterministic: a re-deploy updates the same definition instead of creating a twin.
  name: guid(subscription().id, 'aadlogin-enforcer-vm-operator', environmentName)
  properties: {
    // Custom role names are unique per TENANT: the subscription id keeps one per watched subscription apart.
    roleName: 'aadlogin-enforcer VM operator (${environmentName}, ${subscription().subscriptionId})'
    description: 'Reads Windows VMs, enables their system-assigned identity and installs AADLoginForWindows. Used by the aadlogin-enforcer Function App only.'
    type: 'CustomRole'
    permissions: [
      {
        actions: enforcerActions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: [
      subscription().id
    ]
  }
}

resource enforcerRoleAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, enforcerRole.id)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: enforcerRole.id
    description: 'aadlogin-enforcer: observe VMs, enable identity, install AADLoginForWindows.'
  }
}

resource loginRoleAdministrator 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, subscriptionResourceId('Microsoft.Authorization/roleDefinitions', rbacAdministrator))
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', rbacAdministrator)
    description: 'aadlogin-enforcer: may assign and remove ONLY Virtual Machine Administrator Login and Virtual Machine User Login.'
    // Without this condition the assignment would let the app grant any role, Owner included.
    // Write: the requested role must be one of the two login roles. Delete: the existing
    // assignment must be one of them. (The same condition the built-in Virtual Machine Data
    // Access Administrator carries.)
    conditionVersion: '2.0'
    condition: '((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/write\'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {1c0163c0-47e6-4577-8991-ea5c82e286e4, fb879df8-f326-4884-b1cf-06f3ad86be52})) AND ((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/delete\'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {1c0163c0-47e6-4577-8991-ea5c82e286e4, fb879df8-f326-4884-b1cf-06f3ad86be52}))'
  }
}

output customRoleDefinitionId string = enforcerRole.id
