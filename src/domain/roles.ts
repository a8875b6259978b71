/**
 * The only two roles this service may ever grant or revoke. Everything that creates an assignment
 * goes through `loginRoleById`, so no other role id can reach ARM from here.
 */
export const LOGIN_ROLES = {
  admin: {
    key: "admin",
    name: "Virtual Machine Administrator Login",
    guid: "1c0163c0-47e6-4577-8991-ea5c82e286e4",
  },
  user: {
    key: "user",
    name: "Virtual Machine User Login",
    guid: "fb879df8-f326-4884-b1cf-06f3ad86be52",
  },
} as const;

export type LoginRoleKey = keyof typeof LOGIN_ROLES;
export type LoginRole = (typeof LOGIN_ROLES)[LoginRoleKey];

/** The login role whose GUID ends the given role definition id (any scope prefix), or undefined. */
export function loginRoleById(roleDefinitionId: string): LoginRole | undefined {
  const guid = roleDefinitionId.trim().split("/").pop()?.toLowerCase() ?? "";
  return Object.values(LOGIN_ROLES).find((r) => r.guid === guid);
}

/** `/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}`, as ARM expects on PUT. */
export function roleDefinitionId(subscriptionId: string, role: LoginRole): string {
  return `/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${role.guid}`;
}
