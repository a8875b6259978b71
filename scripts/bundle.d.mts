export declare const DEFAULT_ENTRY: string;
export declare const DEFAULT_OUTDIR: string;
export declare const BUNDLE_FILE: string;
export interface BundleResult {
  readonly outfile: string;
  readonly bytes: number;
  readonly ms: number;
  readonly warnings: string[];
}
export declare function bundle(options?: { entry?: string; outdir?: string }): Promise<BundleResult>;
