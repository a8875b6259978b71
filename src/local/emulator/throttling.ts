export type BucketKind = "reads" | "writes" | "deletes";

/** ARM's documented buckets (2024+): per subscription, principal and region. */
export const ARM_BUCKETS: Record<BucketKind, { size: number; refillPerSecond: number }> = {
  reads: { size: 250, refillPerSecond: 25 },
  writes: { size: 200, refillPerSecond: 10 },
  deletes: { size: 200, refillPerSecond: 10 },
};

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export const bucketOf = (method: string): BucketKind => (method === "GET" || method === "HEAD" ? "reads" : method === "DELETE" ? "deletes" : "writes");

/**
 * Token buckets per subscription + principal (one region here). `scale` multiplies size and refill so
 * tests can hit the limit in a handful of calls; `false` disables throttling (headers still sent).
 */
export class Throttle {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private scale: number | false) {}

  setScale(scale: number | false): void {
    this.scale = scale;
    this.buckets.clear();
  }

  /** Takes a token; returns what is left of each bucket and, when empty, the seconds to wait. */
  take(subscription: string, principal: string, kind: BucketKind, now: number): { remaining: Record<BucketKind, number>; retryAfterSeconds?: number } {
    const remaining = {} as Record<BucketKind, number>;
    let retryAfterSeconds: number | undefined;
    for (const k of Object.keys(ARM_BUCKETS) as BucketKind[]) {
      const bucket = this.refill(`${subscription}|${principal}|${k}`.toLowerCase(), k, now);
      if (k === kind && this.scale !== false) {
        if (bucket.tokens >= 1) bucket.tokens -= 1;
        else retryAfterSeconds = Math.max(1, Math.ceil((1 - bucket.tokens) / this.limits(k).refillPerSecond));
      }
      remaining[k] = Math.floor(bucket.tokens);
    }
    return retryAfterSeconds === undefined ? { remaining } : { remaining, retryAfterSeconds };
  }

  clear(): void {
    this.buckets.clear();
  }

  private limits(kind: BucketKind): { size: number; refillPerSecond: number } {
    const scale = this.scale === false ? 1 : this.scale;
    const base = ARM_BUCKETS[kind];
    return { size: Math.max(1, Math.round(base.size * scale)), refillPerSecond: base.refillPerSecond * scale };
  }

  private refill(key: string, kind: BucketKind, now: number): Bucket {
    const { size, refillPerSecond } = this.limits(kind);
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { tokens: size, updatedAt: now };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(size, bucket.tokens + ((now - bucket.updatedAt) / 1000) * refillPerSecond);
    bucket.updatedAt = now;
    return bucket;
  }
}
