import { ArmError } from "./errors.js";

/**
 * Compute's own read throttles, on top of ARM's (Microsoft, "Compute throttling limits": token buckets
 * per resource and per subscription, per region; the emulator has one region). Single-VM reads (GET,
 * instance view, extension GET and list) refill 12 a minute with a burst of 36 per VM and 8,000 a minute
 * per subscription; VM list calls refill 300 a minute with a burst of 900 per subscription.
 * Every answer names what is left as `x-ms-ratelimit-remaining-resource: <RP>/<policy>;<count>,...`
 * (the format of Microsoft's "Troubleshooting API throttling errors"; the policy names are the emulator's).
 * `scale` multiplies sizes and refills so tests reach a limit in a few calls; `false` never refuses.
 */
export type ComputeReadKind = "vm-read" | "vm-list";

interface Policy {
  readonly name: string;
  readonly size: number;
  readonly refillPerMinute: number;
}

const PER_VM: Policy = { name: "Microsoft.Compute/GetVMResource", size: 36, refillPerMinute: 12 };
const VM_READS_PER_SUBSCRIPTION: Policy = { name: "Microsoft.Compute/GetVMSubscription", size: 8000, refillPerMinute: 8000 };
const LISTS_PER_SUBSCRIPTION: Policy = { name: "Microsoft.Compute/ListVMSubscription", size: 900, refillPerMinute: 300 };

export class ComputeThrottle {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private scale: () => number | false) {}

  clear(): void {
    this.buckets.clear();
  }

  /** Takes one call from each bucket the read falls under; throws Compute's 429 when one is empty. */
  take(kind: ComputeReadKind, subscriptionId: string, vmKey: string | undefined, now: number): Record<string, string> {
    const sub = subscriptionId.toLowerCase();
    const applicable: Array<[Policy, string]> =
      kind === "vm-list"
        ? [[LISTS_PER_SUBSCRIPTION, `list|${sub}`]]
        : [
            [PER_VM, `vm|${(vmKey ?? "").toLowerCase()}`],
            [VM_READS_PER_SUBSCRIPTION, `vmsub|${sub}`],
          ];
    const scale = this.scale();
    const states = applicable.map(([policy, key]) => ({ policy, bucket: this.refill(policy, key, now, scale) }));
    const empty = scale === false ? undefined : states.find((s) => s.bucket.tokens < 1);
    if (!empty) for (const s of states) s.bucket.tokens = Math.max(0, s.bucket.tokens - 1);
    const headers = { "x-ms-ratelimit-remaining-resource": states.map((s) => `${s.policy.name};${Math.floor(s.bucket.tokens)}`).join(","), "x-ms-request-charge": empty ? "0" : "1" };
    if (empty) {
      const perMinute = this.limits(empty.policy, scale).refillPerMinute;
      const retryAfter = Math.max(1, Math.ceil(((1 - empty.bucket.tokens) / perMinute) * 60));
      // Compute's 429 names the exhausted policy in details (Microsoft's "Troubleshooting API throttling errors").
      const group = empty.policy.name.replace(/^Microsoft\.Compute\//, "");
      throw new ArmError(
        429,
        "OperationNotAllowed",
        "The server rejected the request because too many requests have been received for this subscription.",
        { ...headers, "Retry-After": String(retryAfter) },
        undefined,
        [{ code: "TooManyRequests", target: group, message: JSON.stringify({ operationGroup: group, allowedRequestCount: this.limits(empty.policy, scale).size }) }],
      );
    }
    return headers;
  }

  private limits(policy: Policy, scale: number | false): { size: number; refillPerMinute: number } {
    const s = scale === false ? 1 : scale;
    return { size: Math.max(1, Math.round(policy.size * s)), refillPerMinute: policy.refillPerMinute * s };
  }

  private refill(policy: Policy, key: string, now: number, scale: number | false): { tokens: number; at: number } {
    const { size, refillPerMinute } = this.limits(policy, scale);
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { tokens: size, at: now };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(size, bucket.tokens + ((now - bucket.at) / 60_000) * refillPerMinute);
    bucket.at = now;
    return bucket;
  }
}
