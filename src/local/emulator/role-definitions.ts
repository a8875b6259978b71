import { badRequest } from "./errors.js";
import { isObject } from "./http-io.js";

/**
 * The built-in roles that matter here, with their real GUIDs and their full permissions as Microsoft's
 * "Azure built-in roles" page publishes them (the emulator authorizes every ARM request with these).
 */
export interface Permission {
  readonly actions: readonly string[];
  readonly notActions: readonly string[];
  readonly dataActions: readonly string[];
  readonly notDataActions: readonly string[];
}

export interface RoleDefinitionRecord {
  readonly guid: string;
  readonly roleName: string;
  readonly type: "BuiltInRole" | "CustomRole";
  readonly description: string;
  readonly permissions: readonly Permission[];
  readonly assignableScopes: readonly string[];
  readonly condition?: string;
}

const perm = (actions: string[], dataActions: string[] = [], notActions: string[] = []): Permission => ({
  actions,
  notActions,
  dataActions,
  notDataActions: [],
});

const VM_LOGIN_READS = [
  "Microsoft.Network/publicIPAddresses/read",
  "Microsoft.Network/virtualNetworks/read",
  "Microsoft.Network/loadBalancers/read",
  "Microsoft.Network/networkInterfaces/read",
  "Microsoft.Compute/virtualMachines/*/read",
  "Microsoft.HybridCompute/machines/*/read",
  "Microsoft.HybridConnectivity/endpoints/listCredentials/action",
];

const LOGIN_ROLE_CONDITION =
  "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR " +
  "(@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals " +
  "{1c0163c0-47e6-4577-8991-ea5c82e286e4, fb879df8-f326-4884-b1cf-06f3ad86be52})) AND " +
  "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR " +
  "(@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals " +
  "{1c0163c0-47e6-4577-8991-ea5c82e286e4, fb879df8-f326-4884-b1cf-06f3ad86be52}))";

const builtIn = (guid: string, roleName: string, description: string, permissions: Permission[], condition?: string): RoleDefinitionRecord => ({
  guid,
  roleName,
  type: "BuiltInRole",
  description,
  permissions,
  assignableScopes: ["/"],
  ...(condition ? { condition } : {}),
});

export const BUILT_IN_ROLES: readonly RoleDefinitionRecord[] = [
  builtIn("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner", "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.", [perm(["*"])]),
  builtIn("b24988ac-6180-42a0-ab88-20f7382dd24c", "Contributor", "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.", [
    perm(["*"], [], [
      "Microsoft.Authorization/*/Delete",
      "Microsoft.Authorization/*/Write",
      "Microsoft.Authorization/elevateAccess/Action",
      "Microsoft.Blueprint/blueprintAssignments/write",
      "Microsoft.Blueprint/blueprintAssignments/delete",
      "Microsoft.Compute/galleries/share/action",
      "Microsoft.Purview/consents/write",
      "Microsoft.Purview/consents/delete",
      "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
      "Microsoft.Subscription/cancel/action",
      "Microsoft.Subscription/enable/action",
    ]),
  ]),
  builtIn("acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader", "View all resources, but does not allow you to make any changes.", [perm(["*/read"])]),
  builtIn("9980e02c-c2be-4d73-94e8-173b1dc7cf3c", "Virtual Machine Contributor", "Create and manage virtual machines, manage disks, install and run software, reset password of the root user of the virtual machine using VM extensions, and manage local user accounts using VM extensions. This role does not grant you management access to the virtual network or storage account the virtual machines are connected to. This role does not allow you to assign roles in Azure RBAC.", [
    perm([
      "Microsoft.Authorization/*/read",
      "Microsoft.Compute/availabilitySets/*",
      "Microsoft.Compute/locations/*",
      "Microsoft.Compute/virtualMachines/*",
      "Microsoft.Compute/virtualMachineScaleSets/*",
      "Microsoft.Compute/cloudServices/*",
      "Microsoft.Compute/disks/write",
      "Microsoft.Compute/disks/read",
      "Microsoft.Compute/disks/delete",
      "Microsoft.DevTestLab/schedules/*",
      "Microsoft.Insights/alertRules/*",
      "Microsoft.Network/applicationGateways/backendAddressPools/join/action",
      "Microsoft.Network/loadBalancers/backendAddressPools/join/action",
      "Microsoft.Network/loadBalancers/inboundNatPools/join/action",
      "Microsoft.Network/loadBalancers/inboundNatRules/join/action",
      "Microsoft.Network/loadBalancers/probes/join/action",
      "Microsoft.Network/loadBalancers/read",
      "Microsoft.Network/locations/*",
      "Microsoft.Network/networkInterfaces/*",
      "Microsoft.Network/networkSecurityGroups/join/action",
      "Microsoft.Network/networkSecurityGroups/read",
      "Microsoft.Network/publicIPAddresses/join/action",
      "Microsoft.Network/publicIPAddresses/read",
      "Microsoft.Network/virtualNetworks/read",
      "Microsoft.Network/virtualNetworks/subnets/join/action",
      "Microsoft.RecoveryServices/locations/*",
      "Microsoft.RecoveryServices/Vaults/backupFabrics/backupProtectionIntent/write",
      "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/*/read",
      "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/read",
      "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems/write",
      "Microsoft.RecoveryServices/Vaults/backupPolicies/read",
      "Microsoft.RecoveryServices/Vaults/backupPolicies/write",
      "Microsoft.RecoveryServices/Vaults/read",
      "Microsoft.RecoveryServices/Vaults/usages/read",
      "Microsoft.RecoveryServices/Vaults/write",
      "Microsoft.ResourceHealth/availabilityStatuses/read",
      "Microsoft.Resources/deployments/*",
      "Microsoft.Resources/subscriptions/resourceGroups/read",
      "Microsoft.SqlVirtualMachine/*",
      "Microsoft.Storage/storageAccounts/listKeys/action",
      "Microsoft.Storage/storageAccounts/read",
      "Microsoft.Support/*",
    ]),
  ]),
  builtIn("18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", "User Access Administrator", "Lets you manage user access to Azure resources.", [
    perm(["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"]),
  ]),
  builtIn("f58310d9-a9f6-439a-9e8d-f62e7b41a168", "Role Based Access Control Administrator", "Manage access to Azure resources by assigning roles using Azure RBAC. This role does not allow you to manage access using other ways, such as Azure Policy.", [
    perm([
      "Microsoft.Authorization/roleAssignments/write",
      "Microsoft.Authorization/roleAssignments/delete",
      "*/read",
      "Microsoft.Support/*",
    ]),
  ]),
  builtIn("1c0163c0-47e6-4577-8991-ea5c82e286e4", "Virtual Machine Administrator Login", "View Virtual Machines in the portal and login as administrator", [
    perm(VM_LOGIN_READS, [
      "Microsoft.Compute/virtualMachines/login/action",
      "Microsoft.Compute/virtualMachines/loginAsAdmin/action",
      "Microsoft.HybridCompute/machines/login/action",
      "Microsoft.HybridCompute/machines/loginAsAdmin/action",
    ]),
  ]),
  builtIn("fb879df8-f326-4884-b1cf-06f3ad86be52", "Virtual Machine User Login", "View Virtual Machines in the portal and login as a regular user.", [
    perm(VM_LOGIN_READS, [
      "Microsoft.Compute/virtualMachines/login/action",
      "Microsoft.HybridCompute/machines/login/action",
    ]),
  ]),
  builtIn("66f75aeb-eabe-4b70-9f1e-c350c4c9ad04", "Virtual Machine Data Access Administrator", "Manage access to Virtual Machines by adding or removing role assignments for the Virtual Machine Administrator Login and Virtual Machine User Login roles. Includes an ABAC condition to constrain role assignments.", [
    perm([
      "Microsoft.Authorization/roleAssignments/write",
      "Microsoft.Authorization/roleAssignments/delete",
      "Microsoft.Authorization/*/read",
      "Microsoft.Resources/deployments/*",
      "Microsoft.Resources/subscriptions/resourceGroups/read",
      "Microsoft.Compute/virtualMachines/read",
      "Microsoft.Support/*",
    ]),
  ], LOGIN_ROLE_CONDITION),
];

/** A custom role's permissions as ARM stores them; anything else is refused (a typo would silently grant nothing). */
export function customPermissions(roleName: string, raw: unknown[] | undefined): Permission[] {
  if (raw === undefined) return [{ actions: [], notActions: [], dataActions: [], notDataActions: [] }];
  const list = (p: Record<string, unknown>, key: string): string[] => {
    const v = p[key] ?? [];
    if (!Array.isArray(v) || v.some((a) => typeof a !== "string" || a === "")) {
      throw badRequest("InvalidRequestContent", `Role '${roleName}': permissions[].${key} must be an array of action strings.`);
    }
    return v as string[];
  };
  return raw.map((p) => {
    if (!isObject(p)) throw badRequest("InvalidRequestContent", `Role '${roleName}': each permission must be an object {actions, notActions, dataActions, notDataActions}.`);
    return { actions: list(p, "actions"), notActions: list(p, "notActions"), dataActions: list(p, "dataActions"), notDataActions: list(p, "notDataActions") };
  });
}

