import { chromiumInstalled, launchChromium } from "../src/local/browser.js";
import type { BenchContext, ScenarioResult } from "./scenarios.js";
import { check, round } from "./support.js";

/**
 * The dashboard over the audit scenario's records (its 1,000 VMs by default), through the local
 * Functions host: bytes and server time of the default page (100 rows), of all VMs on one page
 * (`top=1000`) and of one VM's page; then Chromium's first contentful paint of both table pages
 * (Paint Timing API, from navigation start; skipped without a browser).
 */
export async function dashboardScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const host = ctx.stack.host;
  if (!host) throw new Error("The dashboard scenario needs the local Functions host.");
  const records = await ctx.stack.services.store.listVms();
  check(records.length > 0, "the dashboard scenario needs the audit scenario's records");
  const base = `${host.url}/api/dashboard?code=${encodeURIComponent(host.functionKey)}`;
  const urls = { page: base, all: `${base}&top=1000`, vm: `${base}&vm=${encodeURIComponent(records[0]!.vmId)}` };

  const timeGet = async (url: string) => {
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const response = await fetch(url);
      const body = await response.arrayBuffer();
      times.push(performance.now() - started);
      check(response.status === 200, `GET ${url} answered ${response.status}`);
      bytes = body.byteLength;
    }
    times.sort((a, b) => a - b);
    return { bytes, p50: round(times[2]!, 1) };
  };
  const page = await timeGet(urls.page);
  const all = await timeGet(urls.all);
  const vm = await timeGet(urls.vm);

  let fcp: { page: number; all: number } | undefined;
  if (chromiumInstalled()) {
    const browser = await launchChromium();
    try {
      const paint = async (url: string) => {
        const samples: number[] = [];
        for (let i = 0; i < 3; i++) {
          const tab = await browser.newPage();
          await tab.goto(url, { waitUntil: "load" });
          samples.push(Number(await tab.evaluate(`performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? NaN`)));
          await tab.close();
        }
        samples.sort((a, b) => a - b);
        return round(samples[1]!, 0);
      };
      fcp = { page: await paint(urls.page), all: await paint(urls.all) };
    } finally {
      await browser.close();
    }
  } else ctx.progress("  dashboard: no Chromium at /usr/bin/chromium, first contentful paint not measured");

  return {
    scenario: "dashboard",
    figures: {
      vms: records.length,
      page_kb: round(page.bytes / 1024, 1), page_ms_p50: page.p50,
      all_kb: round(all.bytes / 1024, 1), all_ms_p50: all.p50,
      vm_page_kb: round(vm.bytes / 1024, 1), vm_page_ms_p50: vm.p50,
      fcp_page_ms: fcp?.page ?? "n/a", fcp_all_ms: fcp?.all ?? "n/a",
    },
  };
}
