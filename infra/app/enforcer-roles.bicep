// What the enforcer's identity may do in ONE watched subscription, and nothing more: one custom role
// holding exactly the actions the code performs, assigned with an ABAC condition that limits its
// role-assignment writes to the two VM login roles granted to allowed principals.
//
// Why a custom role and not Role Based Access Control Administrator (with the same condition): RBAC
// Administrator also brings `*/read` (every resource and setting in the subscription) and
// `Microsoft.Support/*`; the code needs neither. Why ONE conditioned assignment: an action granted by
// two assignments is allowed if either allows it, so a second, unconditioned assignment holding
// roleAssignments/write would silently bypass the condition (Azure's "condition is not enforced").
// src/local/stack.ts grants exactly this to the enforcer in the local emulator, which evaluates the
// condition: infra/app/enforcer-roles.generated.json (`npm run gen:roles`) carries it there.
targetScope = 'subscription'

param environmentName string
param principalId string

@description('Object ids the tags may grant login to (the app\'s ACCESS_ALLOWED_PRINCIPALS). Part of the ABAC condition: changing it needs a redeploy.')
param allowedPrincipals array = []

// Actions of the custom role. Each is a real ARM operation; the code needs each:
var enforcerActions = [
  'Microsoft.Compute/virtualMachines/read' // observe the VM (identity, image, tags, power state), list VMs for the audit
  'Microsoft.Compute/virtualMachines/instanceView/read' // OS name/version of custom images, extension status
  'Microsoft.Compute/virtualMachines/write' // PATCH the system-assigned identity on
  'Microsoft.Compute/virtualMachines/extensions/read' // observe AADLoginForWindows
  'Microsoft.Compute/virtualMachines/extensions/write' // install AADLoginForWindows
  'Microsoft.Compute/locations/operations/read' // the status of those long-running operations (subscription scope)
  'Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action' // PATCHing a VM that keeps user-assigned identities
  'Microsoft.Authorization/roleAssignments/read' // list the login assignments at the VM scope
  'Microsoft.Authorization/roleAssignments/write' // grant login: only as the condition below allows
  'Microsoft.Authorization/roleAssignments/delete' // revoke login: only as the condition below allows
  'Microsoft.ResourceGraph/resources/read' // the drift audit's snapshot; Resource Graph answers only rows the reads above allow
  'Microsoft.Network/networkInterfaces/read' // preflight: the VM's NICs and their security group
  'Microsoft.Network/networkSecurityGroups/read' // preflight: outbound rules that could block TCP 443 to Entra ID
  'Microsoft.Network/virtualNetworks/subnets/read' // preflight: the subnet's security group
]

// Virtual Machine Administrator Login, Virtual Machine User Login.
var loginRoles = '1c0163c0-47e6-4577-8991-ea5c82e286e4, fb879df8-f326-4884-b1cf-06f3ad86be52'

// Write: a login role AND an allowed principal (Azure's "Constrain roles and specific groups" example);
// with an empty allow-list no write is allowed at all (an empty value set is not valid condition syntax).
// Delete: any principal, but only assignments of a login role, so the app can still revoke what it
// granted to a principal removed from the allow-list (its code deletes only its own, marked, assignments).
var writeCondition = empty(allowedPrincipals)
  ? '(!(ActionMatches{\'Microsoft.Authorization/roleAssignments/write\'}))'
  : '((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/write\'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${loginRoles}} AND @Request[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {${join(allowedPrincipals, ', ')}}))'
var deleteCondition = '((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/delete\'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${loginRoles}}))'

resource enforcerRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  // Deterministic: a re-deploy updates the same definition instead of creating a twin.
  name: guid(subscription().id, 'aadlogin-enforcer-vm-operator', environmentName)
  properties: {
    // Custom role names are unique per TENANT: the subscription id keeps one per watched subscription apart.
    roleName: 'aadlogin-enforcer VM operator (${environmentName}, ${subscription().subscriptionId})'
    description: 'Reads Windows VMs and their network security rules, enables their system-assigned identity, installs AADLoginForWindows and manages login role assignments. Used by the aadlogin-enforcer Function App only.'
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
    description: 'aadlogin-enforcer: observe VMs, enable identity, install AADLoginForWindows; assign and remove ONLY Virtual Machine Administrator Login and Virtual Machine User Login, for allowed principals only.'
    // Without this condition the role would let the app grant any role, Owner included, to anyone.
    conditionVersion: '2.0'
    condition: '${writeCondition} AND ${deleteCondition}'
  }
}

output customRoleDefinitionId string = enforcerRole.id
