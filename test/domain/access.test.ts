import { describe, expect, it } from "vitest";
import {
  DEFAULT_ACCESS_POLICY,
  DEFAULT_ACCESS_TAGS,
  desiredAccessFromTags,
  parseExpiry,
  type AccessPolicy,
  type RejectReason,
} from "../../src/domain/access.js";
import { LOGIN_ROLES } from "../../src/domain/roles.js";
import { p } from "./builders.js";

const NOW = new Date("2025-06-01T12:00:00Z");
const ALLOWED = [p(1), p(2), p(3), p(4), p(5), p(6)];
const policy: AccessPolicy = { ...DEFAULT_ACCESS_POLICY, allowedPrincipals: ALLOWED, maxPrincipals: 5 };

const decide = (tags: Record<string, string>, overrides: Partial<AccessPolicy> = {}, now = NOW) =>
  desiredAccessFromTags(tags, { ...policy, ...overrides }, now);

const summary = (tags: Record<string, string>, overrides: Partial<AccessPolicy> = {}) => {
  const d = decide(tags, overrides);
  return {
    grants: d.grants.map((g) => `${g.role}:${g.principalId}:${g.principalType}`),
    rejected: d.rejected.map((r) => `${r.reason}:${r.entry}`),
  };
};

describe("desiredAccessFromTags: the tag contract", () => {
  it.each<[string, Record<string, string>, string[], string[]]>([
    ["no tags", {}, [], []],
    ["unrelated tags only", { env: "prod", owner: "team-a" }, [], []],
    ["one admin", { "aadlogin-admins": p(1) }, [`admin:${p(1)}:User`], []],
    ["one user", { "aadlogin-users": p(2) }, [`user:${p(2)}:User`], []],
    ["typed entries", { "aadlogin-admins": `${p(1)}:Group`, "aadlogin-users": `${p(2)}:ServicePrincipal,${p(3)}:User` }, [`admin:${p(1)}:Group`, `user:${p(2)}:ServicePrincipal`, `user:${p(3)}:User`], []],
    ["type in any case", { "aadlogin-users": `${p(1)}:group;${p(2)}:SERVICEPRINCIPAL;${p(3)}:uSeR` }, [`user:${p(1)}:Group`, `user:${p(2)}:ServicePrincipal`, `user:${p(3)}:User`], []],
    ["comma, semicolon and whitespace separators", { "aadlogin-users": ` ${p(1)},${p(2)};${p(3)}\t${p(4)}\n${p(5)} ` }, [1, 2, 3, 4, 5].map((n) => `user:${p(n)}:User`), []],
    ["repeated separators and empty entries", { "aadlogin-users": `,,;; ${p(1)} ,; ,${p(2)},,` }, [`user:${p(1)}:User`, `user:${p(2)}:User`], []],
    ["upper-case object ids come out lower case", { "aadlogin-admins": p(1).toUpperCase() }, [`admin:${p(1)}:User`], []],
    ["tag names in any case", { "AADLOGIN-ADMINS": p(1), "AadLogin-Users": p(2) }, [`admin:${p(1)}:User`, `user:${p(2)}:User`], []],
    ["empty values", { "aadlogin-admins": "", "aadlogin-users": "   " }, [], []],
    ["admin and user → admin only", { "aadlogin-admins": p(1), "aadlogin-users": `${p(1)},${p(2)}` }, [`admin:${p(1)}:User`, `user:${p(2)}:User`], [`duplicate:${p(1)}`]],
    ["admin listed twice", { "aadlogin-admins": `${p(1)},${p(1).toUpperCase()}:Group` }, [`admin:${p(1)}:User`], [`duplicate:${p(1).toUpperCase()}:Group`]],
    ["over the limit (admins first)", { "aadlogin-users": `${p(1)},${p(2)},${p(3)}`, "aadlogin-admins": `${p(4)},${p(5)},${p(6)}` }, [`admin:${p(4)}:User`, `admin:${p(5)}:User`, `admin:${p(6)}:User`, `user:${p(1)}:User`, `user:${p(2)}:User`], [`over-limit:${p(3)}`]],
    ["not on the allow-list", { "aadlogin-admins": `${p(1)},${p(99)}` }, [`admin:${p(1)}:User`], [`not-allowed:${p(99)}`]],
    ["a guest (B2B) UPN", { "aadlogin-users": `${p(1)},alice_contoso.com#EXT#@fabrikam.onmicrosoft.com` }, [`user:${p(1)}:User`], ["guest-not-supported:alice_contoso.com#EXT#@fabrikam.onmicrosoft.com"]],
    ["a guest UPN in other case", { "aadlogin-admins": "BOB_EXAMPLE.ORG#ext#@Fabrikam.onmicrosoft.com" }, [], ["guest-not-supported:BOB_EXAMPLE.ORG#ext#@Fabrikam.onmicrosoft.com"]],
    ["a member UPN is not an object id (not a guest)", { "aadlogin-users": "carol@fabrikam.com" }, [], ["not-a-guid:carol@fabrikam.com"]],
    ["custom tag names", { "vm-admins": p(1), "vm-users": p(2), "aadlogin-admins": p(3) }, [`admin:${p(1)}:User`, `user:${p(2)}:User`], []],
  ])("%s", (label, tags, grants, rejected) => {
    const overrides = label === "custom tag names" ? { adminsTag: "vm-admins", usersTag: "vm-users" } : {};
    expect(summary(tags, overrides)).toEqual({ grants, rejected });
  });

  it("records which tag requested each grant", () => {
    const d = decide({ "AADLogin-Admins": p(1), "aadlogin-users": p(2) });
    expect(d.grants.map((g) => g.tag)).toEqual([DEFAULT_ACCESS_TAGS.adminsTag, DEFAULT_ACCESS_TAGS.usersTag]);
  });

  it("an empty allow-list means nobody may be granted by tag", () => {
    const d = decide({ "aadlogin-admins": p(1), "aadlogin-users": p(2) }, { allowedPrincipals: [] });
    expect(d.grants).toEqual([]);
    expect(d.rejected.map((r) => r.reason)).toEqual(["not-allowed", "not-allowed"]);
    expect(d.rejected[0]?.message).toContain("ACCESS_ALLOWED_PRINCIPALS");
    expect(d.rejected[0]?.principalId).toBe(p(1));
  });

  it("a limit of zero grants nothing", () => {
    expect(summary({ "aadlogin-users": p(1) }, { maxPrincipals: 0 })).toEqual({ grants: [], rejected: [`over-limit:${p(1)}`] });
  });

  it("the duplicate message says admin wins", () => {
    const d = decide({ "aadlogin-admins": p(1), "aadlogin-users": p(1) });
    expect(d.rejected[0]).toMatchObject({ tag: "aadlogin-users", reason: "duplicate", principalId: p(1) });
    expect(d.rejected[0]?.message).toContain("Virtual Machine Administrator Login");
    expect(d.rejected[0]?.message).toContain("aadlogin-admins");
  });

  it("two spellings of one tag with different values: neither is used, and it says so", () => {
    const d = decide({ "aadlogin-admins": p(1), "AADLOGIN-ADMINS": p(2), "aadlogin-users": p(3) });
    expect(d.grants.map((g) => g.principalId)).toEqual([p(3)]);
    expect(d.rejected.map((r) => `${r.reason}:${r.entry}`)).toEqual([`duplicate:${p(2)}`, `duplicate:${p(1)}`]);
    expect(d.rejected[0]?.message).toMatch(/different letter case/);
    expect(d.rejected[0]?.message).toContain("AADLOGIN-ADMINS");
  });

  it("two spellings of one tag with the same value count once", () => {
    expect(summary({ "aadlogin-admins": p(1), "AADLOGIN-ADMINS": ` ${p(1)} ` })).toEqual({ grants: [`admin:${p(1)}:User`], rejected: [] });
  });

  it("is deterministic whatever the order of the tags", () => {
    const a = decide({ "aadlogin-users": `${p(1)},${p(2)}`, "aadlogin-admins": p(2), "AADLOGIN-admins": p(3) });
    const b = decide({ "AADLOGIN-admins": p(3), "aadlogin-admins": p(2), "aadlogin-users": `${p(1)},${p(2)}` });
    expect(a).toEqual(b);
  });
});

describe("desiredAccessFromTags: expiry", () => {
  const tags = (expires: string) => ({ "aadlogin-admins": p(1), "aadlogin-users": `${p(2)},not-a-guid`, "aadlogin-expires": expires });

  it.each([
    ["an instant in the future", "2025-06-01T12:00:01Z", false, "2025-06-01T12:00:01.000Z"],
    ["an offset in the future", "2025-06-01T14:30:00+02:00", false, "2025-06-01T12:30:00.000Z"],
    ["a compact offset", "2025-06-01T08:30:00-0400", false, "2025-06-01T12:30:00.000Z"],
    ["minutes only", "2025-06-02T00:00Z", false, "2025-06-02T00:00:00.000Z"],
    ["fractions of a second", "2025-06-01T12:00:00.1234567Z", false, "2025-06-01T12:00:00.123Z"],
    ["a date alone (00:00 UTC)", "2025-06-02", false, "2025-06-02T00:00:00.000Z"],
    ["lower-case t and z", "2025-12-31t23:59:59z", false, "2025-12-31T23:59:59.000Z"],
    ["exactly now", "2025-06-01T12:00:00Z", true, "2025-06-01T12:00:00.000Z"],
    ["in the past", "2024-01-01T00:00:00Z", true, "2024-01-01T00:00:00.000Z"],
    ["today as a date alone (already began)", "2025-06-01", true, "2025-06-01T00:00:00.000Z"],
    ["an offset that puts it in the past", "2025-06-01T13:00:00+02:00", true, "2025-06-01T11:00:00.000Z"],
  ])("%s", (_label, value, expired, iso) => {
    const d = decide(tags(value));
    expect(d.expired).toBe(expired);
    expect(d.expiresAt).toBe(iso);
    if (expired) {
      expect(d.grants).toEqual([]);
      expect(d.rejected.map((r) => r.reason)).toEqual(["expired", "expired", "expired"]);
      expect(d.rejected[0]?.message).toContain(iso);
    } else {
      expect(d.grants.map((g) => g.principalId)).toEqual([p(1), p(2)]);
      expect(d.rejected.map((r) => r.reason)).toEqual(["not-a-guid"]);
    }
  });

  it.each([
    ["words", "next friday"],
    ["a time without a zone", "2025-12-31T18:00:00"],
    ["a US date", "12/31/2025"],
    ["a day that does not exist", "2025-02-30T00:00:00Z"],
    ["hour 24", "2025-06-01T24:00:00Z"],
    ["minute 60", "2025-06-01T10:60:00Z"],
    ["an impossible offset", "2025-06-01T10:00:00+25:00"],
    ["epoch seconds", "1767225600"],
    ["SQL", "2025-12-31'; DROP TABLE vms;--"],
    ["a date followed by junk", "2025-12-31T00:00:00Z <script>"],
    ["300 characters", "2".repeat(300)],
  ])("an unreadable expiry (%s) grants nothing", (_label, value) => {
    const d = decide(tags(value));
    expect(d.grants).toEqual([]);
    expect(d.expired).toBe(false);
    expect(d.expiresAt).toBeUndefined();
    expect(d.rejected.map((r) => r.reason)).toEqual(["bad-expiry", "bad-expiry", "bad-expiry"]);
    expect(d.rejected[0]?.message).toContain("aadlogin-expires");
    expect(d.rejected[0]?.message.length).toBeLessThan(400);
  });

  it("an empty expiry tag means no expiry", () => {
    const d = decide(tags("  "));
    expect(d.expiresAt).toBeUndefined();
    expect(d.grants).toHaveLength(2);
  });

  it("two spellings of the expiry tag with different values grant nothing", () => {
    const d = decide({ "aadlogin-users": p(1), "aadlogin-expires": "2030-01-01T00:00:00Z", "AADLOGIN-EXPIRES": "2020-01-01T00:00:00Z" });
    expect(d.grants).toEqual([]);
    expect(d.rejected.map((r) => r.reason)).toEqual(["bad-expiry"]);
    expect(d.rejected[0]?.message).toMatch(/different letter case/);
  });

  it("expiry takes the tag name in any case", () => {
    expect(decide({ "aadlogin-users": p(1), "AADLogin-Expires": "2020-01-01T00:00:00Z" }).expired).toBe(true);
  });

  it.each([
    ["2025-01-31T18:00:00Z", "2025-01-31T18:00:00.000Z"],
    ["2025-01-31T18:00:00.5+00:00", "2025-01-31T18:00:00.500Z"],
    ["2024-02-29", "2024-02-29T00:00:00.000Z"],
    ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"],
  ])("parseExpiry(%s)", (value, iso) => {
    const parsed = parseExpiry(value);
    expect(parsed).toBeInstanceOf(Date);
    expect((parsed as Date).toISOString()).toBe(iso);
  });
});

describe("desiredAccessFromTags: hostile input is rejected, never thrown, never granted beyond the two roles", () => {
  const loginRoleKeys = Object.keys(LOGIN_ROLES);
  it.each<[string, string, RejectReason[]]>([
    ["a 300-character value", "a".repeat(300), ["not-a-guid"]],
    ["a 300-character GUID-ish value", `${p(1)}${"0".repeat(264)}`, ["not-a-guid"]],
    ["SQL", `${p(1)}'; DROP TABLE roleAssignments;--`, ["not-a-guid", "not-a-guid", "not-a-guid", "not-a-guid", "not-a-guid"]],
    ["SQL, split on whitespace", `' OR 1=1 --`, ["not-a-guid", "not-a-guid", "not-a-guid", "not-a-guid"]],
    ["OData", `principalId eq '${p(1)}'`, ["not-a-guid", "not-a-guid", "not-a-guid"]],
    ["an OData filter without spaces", `$filter=principalId%20eq%20'${p(1)}'`, ["not-a-guid"]],
    ["HTML", `<script>alert(1)</script>`, ["not-a-guid"]],
    ["an HTML attribute", `<img/src=x/onerror=alert(1)>`, ["not-a-guid"]],
    ["a role name", "Owner", ["not-a-guid"]],
    ["a role name with a type", "Contributor:User", ["not-a-guid"]],
    ["a role definition GUID of Owner, typed as a role", `8e3af657-a8ff-443c-a75c-2fe8c4bcb635:Owner`, ["bad-principal-type"]],
    ["a full role definition id", `/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635`, ["not-a-guid"]],
    ["an unknown principal type", `${p(1)}:Robot`, ["bad-principal-type"]],
    ["ForeignGroup (not in the tag contract)", `${p(1)}:ForeignGroup`, ["bad-principal-type"]],
    ["an empty principal type", `${p(1)}:`, ["bad-principal-type"]],
    ["two principal types", `${p(1)}:User:Group`, ["bad-principal-type"]],
    ["a GUID in braces", `{${p(1)}}`, ["not-a-guid"]],
    ["a GUID without dashes", p(1).replace(/-/g, ""), ["not-a-guid"]],
    ["a GUID with a non-hex character", `${p(1).slice(0, -1)}g`, ["not-a-guid"]],
    ["control characters", `${p(1)}\u0000\u0007\u001b[31m`, ["not-a-guid"]],
    ["a zero-width space", `${p(1)}\u200b`, ["not-a-guid"]],
    ["a colon only", ":", ["not-a-guid"]],
    ["a type only", ":User", ["not-a-guid"]],
    ["unicode look-alike digits", "００000000-0000-4000-8000-000000000001", ["not-a-guid"]],
  ])("%s", (_label, value, reasons) => {
    for (const tag of ["aadlogin-admins", "AADLOGIN-USERS"]) {
      const d = decide({ [tag]: value });
      expect(d.grants).toEqual([]);
      expect(d.rejected.map((r) => r.reason)).toEqual(reasons);
      for (const r of d.rejected) {
        expect(r.entry.length).toBeLessThanOrEqual(80);
        expect(r.entry).not.toMatch(/[\u0000-\u001f\u007f]/);
        expect(r.message).not.toMatch(/[\u0000-\u001f\u007f]/);
        expect(r.message.length).toBeLessThan(500);
        expect(["aadlogin-admins", "aadlogin-users"]).toContain(r.tag);
      }
    }
  });

  it("tags naming other roles grant nothing", () => {
    const d = decide({ "aadlogin-owners": p(1), "aadlogin-contributors": p(2), Owner: p(3), "aadlogin-admin": p(4) });
    expect(d).toEqual({ grants: [], rejected: [], expired: false });
  });

  it("only the two login roles ever come out, whatever the tags", () => {
    const hostile: Record<string, string> = {
      "aadlogin-admins": `${p(1)}:Group ${p(2)} Owner:User ${"x".repeat(300)}`,
      "aadlogin-users": `${p(3)};${p(4)}:ServicePrincipal;<b>;${p(5)}:Robot`,
      "aadlogin-roles": p(6),
    };
    const d = decide(hostile);
    expect(d.grants.length).toBeGreaterThan(0);
    for (const g of d.grants) {
      expect(loginRoleKeys).toContain(g.role);
      expect(g.principalId).toMatch(/^[0-9a-f-]{36}$/);
      expect(["User", "Group", "ServicePrincipal"]).toContain(g.principalType);
    }
  });

  it("does not throw on values that are not strings", () => {
    const tags = { "aadlogin-admins": 42, "aadlogin-users": null } as unknown as Record<string, string>;
    expect(() => decide(tags)).not.toThrow();
    expect(() => desiredAccessFromTags(undefined, policy, NOW)).not.toThrow();
  });
});
