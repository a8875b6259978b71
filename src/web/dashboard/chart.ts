import { COMPLIANCE_STATES, type ComplianceState } from "../../domain/outcome.js";
import { html, type SafeHtml } from "./html.js";

/** One colour per state; every colour also comes with its name and count in text (colour is never the only carrier). */
export const STATE_COLOURS: Readonly<Record<ComplianceState, string>> = {
  compliant: "#1a7f37",
  remediated: "#4ac26b",
  "in-progress": "#d4a72c",
  "would-remediate": "#9a6700",
  ineligible: "#8c959f",
  conflict: "#cf222e",
  deferred: "#8250df",
  exempt: "#6e7781",
  failed: "#82071e",
  gone: "#d0d7de",
};

/** A horizontal stacked bar of the counts by state, as inline SVG (no library, nothing fetched). */
export function stateBar(counts: Readonly<Record<ComplianceState, number>>, label: string): SafeHtml {
  const total = COMPLIANCE_STATES.reduce((sum, s) => sum + counts[s], 0);
  const width = 400;
  let x = 0;
  const segments = COMPLIANCE_STATES.filter((s) => counts[s] > 0).map((state) => {
    const w = total === 0 ? 0 : (counts[state] / total) * width;
    const rect = html`<rect x="${x.toFixed(2)}" y="0" width="${w.toFixed(2)}" height="18" fill="${STATE_COLOURS[state]}"><title>${state}: ${counts[state]}</title></rect>`;
    x += w;
    return rect;
  });
  const described = COMPLIANCE_STATES.filter((s) => counts[s] > 0).map((s) => `${counts[s]} ${s}`).join(", ") || "no VMs";
  return html`<svg class="bar" viewBox="0 0 ${width} 18" width="100%" height="18" preserveAspectRatio="none" role="img" aria-label="${label}: ${described}">${segments}</svg>`;
}
