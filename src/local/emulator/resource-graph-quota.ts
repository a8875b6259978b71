/**
 * Resource Graph's per-user query quota ("Guidance for throttled requests in Azure Resource Graph":
 * for example 15 queries in every 5-second window per user; every answer carries
 * `x-ms-user-quota-remaining` (queries left) and `x-ms-user-quota-resets-after` (hh:mm:ss until the
 * window resets)). A window opens with a user's first query and lasts `windowMs`.
 */
export interface QuotaDecision {
  readonly allowed: boolean;
  readonly remaining: number;
  /** Milliseconds until the user's window resets. */
  readonly resetsInMs: number;
}

/** What `x-ms-user-quota-remaining` says when the quota is off. */
const UNLIMITED_REMAINING = 1000;

export class ResourceGraphQuota {
  private readonly windows = new Map<string, { start: number; used: number }>();

  clear(): void {
    this.windows.clear();
  }

  /** Counts one query of the user (by object id); `queries` 0 means no quota (headers still sent). */
  take(user: string, now: number, queries: number, windowMs: number): QuotaDecision {
    const key = user.toLowerCase();
    let window = this.windows.get(key);
    if (!window || now >= window.start + windowMs) {
      window = { start: now, used: 0 };
      this.windows.set(key, window);
    }
    const resetsInMs = Math.max(0, window.start + windowMs - now);
    if (queries > 0 && window.used >= queries) return { allowed: false, remaining: 0, resetsInMs };
    window.used += 1;
    return { allowed: true, remaining: queries > 0 ? queries - window.used : UNLIMITED_REMAINING, resetsInMs };
  }
}

/** `x-ms-user-quota-resets-after` is a duration as hh:mm:ss (rounded up to the second). */
export function hhmmss(ms: number): string {
  const total = Math.ceil(ms / 1000);
  const two = (n: number): string => String(n).padStart(2, "0");
  return `${two(Math.floor(total / 3600))}:${two(Math.floor((total % 3600) / 60))}:${two(total % 60)}`;
}
