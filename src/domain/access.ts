import { LOGIN_ROLES, type LoginRoleKey } from "./roles.js";
import { findTags, type TagMatch } from "./tags.js";
import type { PrincipalType } from "./vm.js";

/**
 * Tags → the login role assignments a VM should have. Tags can be written by anyone with
 * Contributor or Tag Contributor on the VM, so this is a privilege-escalation path unless it is
 * narrow: only the two login roles can come out, only principals on the allow-list, at most
 * `maxPrincipals`, and a malformed expiry grants nothing. Nothing here throws on tag content: every
 * entry that is not granted comes back in `rejected` with a reason.
 *
 * Tag contract (names configurable):
 *  - admins tag (`aadlogin-admins`): entries get Virtual Machine Administrator Login;
 *  - users tag (`aadlogin-users`): entries get Virtual Machine User Login;
 *  - an entry is `OBJECTID` or `OBJECTID:User|Group|ServicePrincipal` (type case-insensitive),
 *    entries separated by `,`, `;` or whitespace; without a type, `User` (ARM's own default);
 *  - expires tag (`aadlogin-expires`): an ISO-8601 instant (`2025-01-31T18:00:00Z`, an offset, or a
 *    date alone meaning 00:00 UTC that day); from that instant on, nothing is granted. Empty = no expiry.
 */
export interface AccessPolicy {
  readonly adminsTag: string;
  readonly usersTag: string;
  readonly expiresTag: string;
  /** Object ids (lower-case GUIDs) that tags may grant login to; empty: nobody. */
  readonly allowedPrincipals: readonly string[];
  /** Most principals one VM's tags may grant, admins and users together. */
  readonly maxPrincipals: number;
}

export const DEFAULT_ACCESS_TAGS = {
  adminsTag: "aadlogin-admins",
  usersTag: "aadlogin-users",
  expiresTag: "aadlogin-expires",
} as const;

export const DEFAULT_ACCESS_POLICY: AccessPolicy = { ...DEFAULT_ACCESS_TAGS, allowedPrincipals: [], maxPrincipals: 20 };

export interface DesiredGrant {
  readonly role: LoginRoleKey;
  /** Lower-case GUID. */
  readonly principalId: string;
  readonly principalType: PrincipalType;
  /** The (configured) tag name that requested it; written into the assignment's description. */
  readonly tag?: string;
}

export type RejectReason =
  | "not-a-guid"
  | "duplicate"
  | "not-allowed"
  | "over-limit"
  | "expired"
  | "bad-principal-type"
  | "bad-expiry"
  | "guest-not-supported";

export interface RejectedEntry {
  /** The configured tag name the entry came from. */
  readonly tag: string;
  /** The entry as written, control characters replaced, cut to 80 characters. */
  readonly entry: string;
  readonly reason: RejectReason;
  readonly message: string;
  /** Lower-case object id, when the entry holds a valid one. */
  readonly principalId?: string;
}

export interface DesiredAccess {
  readonly grants: readonly DesiredGrant[];
  readonly rejected: readonly RejectedEntry[];
  /** The expiry instant (ISO, UTC) when the expires tag holds a valid one. */
  readonly expiresAt?: string;
  /** The expiry has passed: nothing is granted and every tag-granted assignment must go. */
  readonly expired: boolean;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(value: string): boolean {
  return GUID.test(value);
}

/**
 * A guest (B2B) account written by its user principal name: guests' UPNs carry `#EXT#@`
 * (`alice_contoso.com#EXT#@tenant.onmicrosoft.com`). Entra login to Azure VMs does not support guests
 * (Microsoft Learn, "Sign in to a Windows virtual machine in Azure by using Microsoft Entra ID",
 * limitations; the same for Linux). A guest written as an object id cannot be told apart without
 * Microsoft Graph (its `userType`): that case is not detected here.
 */
export function looksLikeGuestUpn(entry: string): boolean {
  return !isGuid(entry) && /#EXT#@/i.test(entry);
}

const PRINCIPAL_TYPES: Readonly<Record<string, PrincipalType>> = {
  user: "User",
  group: "Group",
  serviceprincipal: "ServicePrincipal",
};

const MAX_ENTRY_CHARS = 80;

/** Safe to log and to show in HTML-free text: no control characters, bounded length. */
export function safeEntry(raw: string): string {
  const clean = raw.replace(/[\u0000-\u001f\u007f-\u009f]/g, "\uFFFD");
  return clean.length > MAX_ENTRY_CHARS ? `${clean.slice(0, MAX_ENTRY_CHARS - 1)}…` : clean;
}

/** Splits a tag value into entries: `,`, `;` and any whitespace separate. */
export function splitEntries(value: string): string[] {
  return value.split(/[,;\s]+/).filter((e) => e !== "");
}

type Expiry =
  | { readonly kind: "none" }
  | { readonly kind: "bad"; readonly why: string }
  | { readonly kind: "at"; readonly at: Date };

const ISO_INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:(Z)|([+-])(\d{2}):?(\d{2}))?)?$/i;

/**
 * Strict ISO-8601: a date, or a date and time *with* `Z` or an offset. A time without a zone is
 * refused: the enforcer runs in UTC and would guess the author's clock. A date alone means
 * 00:00 UTC, the earliest reading of it, so access never outlives any reading of the tag.
 */
export function parseExpiry(value: string): Date | string {
  const text = value.trim();
  const m = ISO_INSTANT.exec(text);
  if (!m) return "is not an ISO-8601 instant such as 2025-01-31T18:00:00Z";
  const [, y, mo, d, h, mi, s, frac, z, sign, oh, om] = m;
  if (h !== undefined && z === undefined && sign === undefined) {
    return "has a time but no time zone; add Z (UTC) or an offset such as +01:00";
  }
  const num = (v: string | undefined): number => (v === undefined ? 0 : Number(v));
  const date = new Date(0);
  date.setUTCFullYear(num(y), num(mo) - 1, num(d));
  date.setUTCHours(num(h), num(mi), num(s), Math.floor(Number(`0.${frac ?? "0"}`) * 1000));
  const valid =
    date.getUTCFullYear() === num(y) &&
    date.getUTCMonth() === num(mo) - 1 &&
    date.getUTCDate() === num(d) &&
    num(h) <= 23 &&
    num(mi) <= 59 &&
    num(s) <= 59 &&
    num(oh) <= 23 &&
    num(om) <= 59;
  if (!valid) return "is not a real date and time";
  const offsetMinutes = (sign === "-" ? -1 : 1) * (num(oh) * 60 + num(om));
  return new Date(date.getTime() - offsetMinutes * 60_000);
}

function readExpiry(tags: Readonly<Record<string, string>>, expiresTag: string): Expiry {
  const matches = findTags(tags, expiresTag).filter((t) => t.value.trim() !== "");
  const first = matches[0];
  if (!first) return { kind: "none" };
  if (matches.some((t) => t.value.trim() !== first.value.trim())) {
    return { kind: "bad", why: `tag ${expiresTag} is present ${matches.length} times with different letter case and different values (${matches.map((t) => JSON.stringify(safeEntry(t.name))).join(", ")})` };
  }
  const parsed = parseExpiry(first.value);
  if (typeof parsed === "string") return { kind: "bad", why: `tag ${expiresTag} value ${JSON.stringify(safeEntry(first.value))} ${parsed}` };
  return { kind: "at", at: parsed };
}

interface Source {
  readonly tag: string;
  readonly role: LoginRoleKey;
  readonly matches: readonly TagMatch[];
}

/** The desired login role assignments from a VM's tags, at `now`. Never throws on tag content. */
export function desiredAccessFromTags(
  tags: Readonly<Record<string, string>> | undefined,
  policy: AccessPolicy,
  now: Date,
): DesiredAccess {
  const allTags = tags ?? {};
  const rejected: RejectedEntry[] = [];
  const reject = (tag: string, entry: string, reason: RejectReason, message: string, principalId?: string): void => {
    rejected.push(principalId ? { tag, entry: safeEntry(entry), reason, message, principalId } : { tag, entry: safeEntry(entry), reason, message });
  };

  // Admins first: a principal in both tags is an admin, and admins are granted before the limit bites.
  const sources: Source[] = [
    { tag: policy.adminsTag, role: "admin", matches: findTags(allTags, policy.adminsTag) },
    { tag: policy.usersTag, role: "user", matches: findTags(allTags, policy.usersTag) },
  ];
  const usable: Array<{ tag: string; role: LoginRoleKey; entries: string[] }> = [];
  for (const source of sources) {
    const first = source.matches[0];
    if (!first) continue;
    if (source.matches.some((m) => m.value.trim() !== first.value.trim())) {
      const names = source.matches.map((m) => JSON.stringify(safeEntry(m.name))).join(", ");
      for (const m of source.matches) {
        for (const entry of splitEntries(m.value)) {
          reject(source.tag, entry, "duplicate", `Tag ${source.tag} is present ${source.matches.length} times with different letter case (${names}) and different values; Azure treats tag names case-insensitively, so none of their entries is used. Keep one spelling.`);
        }
      }
      continue;
    }
    usable.push({ tag: source.tag, role: source.role, entries: splitEntries(first.value) });
  }

  const expiry = readExpiry(allTags, policy.expiresTag);
  const expiresAt = expiry.kind === "at" ? expiry.at.toISOString() : undefined;
  if (expiry.kind === "bad") {
    for (const { tag, entries } of usable) {
      for (const entry of entries) {
        reject(tag, entry, "bad-expiry", `Not granted: ${expiry.why}, and an unreadable expiry grants nothing. Fix or remove the tag.`);
      }
    }
    return { grants: [], rejected, expired: false };
  }
  if (expiry.kind === "at" && now.getTime() >= expiry.at.getTime()) {
    for (const { tag, entries } of usable) {
      for (const entry of entries) {
        reject(tag, entry, "expired", `Not granted: tag ${policy.expiresTag} says access ended at ${expiresAt}. Set a later instant to grant it again.`);
      }
    }
    return { grants: [], rejected, expiresAt, expired: true };
  }

  const allowed = new Set(policy.allowedPrincipals.map((p) => p.toLowerCase()));
  const granted = new Map<string, DesiredGrant>();
  for (const { tag, role, entries } of usable) {
    for (const entry of entries) {
      const colon = entry.indexOf(":");
      const idPart = colon < 0 ? entry : entry.slice(0, colon);
      const typePart = colon < 0 ? undefined : entry.slice(colon + 1);
      if (looksLikeGuestUpn(entry)) {
        reject(tag, entry, "guest-not-supported", `Entry ${JSON.stringify(safeEntry(entry))} in tag ${tag} is a guest (B2B) account; Entra login to Azure VMs does not support guests. Grant a member account of this tenant, by its object id.`);
        continue;
      }
      if (!isGuid(idPart)) {
        reject(tag, entry, "not-a-guid", `Entry ${JSON.stringify(safeEntry(entry))} in tag ${tag} is not an object id (GUID); write OBJECTID or OBJECTID:User|Group|ServicePrincipal. Tags grant only ${LOGIN_ROLES[role].name} here.`);
        continue;
      }
      const principalId = idPart.toLowerCase();
      const principalType = typePart === undefined ? "User" : PRINCIPAL_TYPES[typePart.toLowerCase()];
      if (!principalType) {
        reject(tag, entry, "bad-principal-type", `Entry ${JSON.stringify(safeEntry(entry))} in tag ${tag} has principal type ${JSON.stringify(safeEntry(typePart ?? ""))}; use User, Group or ServicePrincipal.`, principalId);
        continue;
      }
      const earlier = granted.get(principalId);
      if (earlier) {
        const why = earlier.role === role
          ? `is listed more than once in tag ${tag}`
          : `already gets ${LOGIN_ROLES[earlier.role].name} from tag ${earlier.tag ?? ""}, which includes user login`;
        reject(tag, entry, "duplicate", `Principal ${principalId} ${why}; this entry is not used.`, principalId);
        continue;
      }
      if (!allowed.has(principalId)) {
        reject(tag, entry, "not-allowed", `Principal ${principalId} in tag ${tag} is not on the allow-list (ACCESS_ALLOWED_PRINCIPALS), so tags cannot grant it login; ask the platform team to add it, or use a direct role assignment.`, principalId);
        continue;
      }
      if (granted.size >= policy.maxPrincipals) {
        reject(tag, entry, "over-limit", `Principal ${principalId} in tag ${tag} is past the limit of ${policy.maxPrincipals} principals per VM (ACCESS_MAX_PRINCIPALS); grant a group instead.`, principalId);
        continue;
      }
      granted.set(principalId, { role, principalId, principalType, tag });
    }
  }
  const grants = [...granted.values()];
  return expiresAt ? { grants, rejected, expiresAt, expired: false } : { grants, rejected, expired: false };
}
