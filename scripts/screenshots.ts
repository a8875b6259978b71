// `npm run screenshots`: the dashboard's three views (overview, a filtered table, one VM) of the
// converged demo fleet, as PNGs under .local/screenshots (git-ignored). README pictures come from here.
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { launchChromium } from "../src/local/browser.js";
import { startDemoStack } from "../src/local/demo/demoStack.js";

const out = resolve(process.argv[2] ?? ".local/screenshots");
mkdirSync(out, { recursive: true });
process.stdout.write("Starting the local stack with the demo fleet (instant timing)…\n");
const [stack, browser] = await Promise.all([startDemoStack(), launchChromium()]);
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const vm = stack.fleet.vms.find((v) => v.id.endsWith("/acc-mixed-tags")) ?? stack.fleet.vms[0]!;
  const views = [
    ["overview.png", stack.dashboardUrl],
    ["filtered.png", `${stack.dashboardUrl}&q=acc-`],
    ["vm.png", `${stack.dashboardUrl}&vm=${encodeURIComponent(vm.id)}`],
  ] as const;
  for (const [file, url] of views) {
    await page.goto(url);
    await page.screenshot({ path: resolve(out, file), fullPage: true });
    process.stdout.write(`  ${resolve(out, file)}\n`);
  }
  // A small one for the README (docs/dashboard.jpg is a copy of it): the first screen of the overview.
  await page.setViewportSize({ width: 1280, height: 820 });
  await page.goto(views[0][1]);
  await page.screenshot({ path: resolve(out, "overview-small.jpg"), type: "jpeg", quality: 70 });
  process.stdout.write(`  ${resolve(out, "overview-small.jpg")}\n`);
} finally {
  await browser.close();
  await stack.close();
}
