import type { LoginRoleKey } from "./roles.js";
import type { IdentityType, PrincipalType } from "./vm.js";

/** One step of a plan. Plans are ordered: identity → extension → create assignments → delete assignments. */
export type Action =
  | {
      readonly kind: "enableIdentity";
      /** `SystemAssigned`, or `SystemAssigned, UserAssigned` when user-assigned identities exist. */
      readonly identityType: IdentityType;
      /** User-assigned identity ids that must be kept, exactly as observed. */
      readonly keepUserAssigned: readonly string[];
    }
  | {
      readonly kind: "installExtension";
      readonly extensionName: string;
      readonly publisher: string;
      readonly type: string;
      readonly typeHandlerVersion: string;
      readonly settings: Readonly<Record<string, string>>;
      /** missing: not installed; failed: installed but failed (reinstall); version: other major version. */
      readonly why: "missing" | "failed" | "version";
    }
  | {
      readonly kind: "createAssignment";
      /** Deterministic name: a name-based UUID of (scope, role definition GUID, principal). */
      readonly name: string;
      /** The VM id: the only scope this service ever assigns at. */
      readonly scope: string;
      readonly role: LoginRoleKey;
      readonly principalId: string;
      readonly principalType: PrincipalType;
      /** Carries the marker that says the enforcer created it. */
      readonly description: string;
    }
  | {
      readonly kind: "deleteAssignment";
      readonly name: string;
      readonly scope: string;
      readonly role: LoginRoleKey;
      readonly principalId: string;
      readonly why: "not-requested" | "expired" | "not-allowed";
    };

export type ActionKind = Action["kind"];
