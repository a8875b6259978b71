import { COMPLIANCE_STATES, type ComplianceState } from "../../domain/outcome.js";
import { describeEligibilityOs } from "../../domain/eligibility.js";
import type { AuditRun, LogEntry, VmRecord } from "../../orchestrator/ports.js";
import { SCRIPT, STYLE } from "./assets.js";
import { stateBar, STATE_COLOURS } from "./chart.js";
import { html, inlineAsset, query, type SafeHtml } from "./html.js";
import { DASHBOARD_PAGE_SIZE, EXPIRING_WITHIN_MS, type GrantView, type OverviewModel, type SortKey, type SubscriptionSummary, type TableQuery, type VmModel } from "./model.js";

/**
 * The dashboard's pages as pure functions of their model and the response's nonce. Every value
 * goes through `html`, which escapes it; the nonce is the only thing that lets the style sheet and
 * the script run under the Content-Security-Policy.
 */

/** Seconds between reloads when JavaScript is off (with it, the script refreshes the live regions). */
const NO_SCRIPT_REFRESH_SECONDS = 15;
/** The overview is one table read; fast enough to follow the demo converging. */
const OVERVIEW_REFRESH_SECONDS = 5;
/** A VM's page also reads ARM (explain's two GETs): slower, to stay far from ARM's read limits. */
const VM_REFRESH_SECONDS = 15;

export function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `style-src 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

interface Layout {
  readonly title: string;
  readonly nonce: string;
  readonly mode?: "enforce" | "report";
  readonly now?: Date;
  readonly home?: string;
  /** How often the script refreshes the live regions; none on error pages. */
  readonly refreshSeconds?: number;
  readonly body: SafeHtml;
}

function layout(page: Layout): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${page.title}</title>
${page.refreshSeconds ? html`<noscript><meta http-equiv="refresh" content="${NO_SCRIPT_REFRESH_SECONDS}"></noscript>` : ""}
<style nonce="${page.nonce}">${inlineAsset(STYLE)}</style>
</head>
<body${page.refreshSeconds ? html` data-refresh-seconds="${page.refreshSeconds}"` : ""}>
<header>
<h1>${page.home ? html`<a href="${page.home}">aadlogin-enforcer</a>` : "aadlogin-enforcer"}</h1>
${page.mode ? html`<span>mode <span class="mode">${page.mode}</span>${page.mode === "report" ? " (records what it would do, changes nothing)" : ""}</span>` : ""}
${page.now ? html`<span class="muted">rendered ${formatTime(page.now.toISOString())} · <span id="refreshed" aria-live="off">refreshes while open</span></span>` : ""}
</header>
<main>
${page.body}
</main>
<script nonce="${page.nonce}">${inlineAsset(SCRIPT)}</script>
</body>
</html>
`.value;
}

// --- overview --------------------------------------------------------------------------------

export function overviewPage(model: OverviewModel, nonce: string): string {
  const home = query({ code: model.code });
  return layout({
    title: "VM login compliance",
    nonce,
    mode: model.mode,
    now: model.now,
    home,
    refreshSeconds: OVERVIEW_REFRESH_SECONDS,
    body: html`
<h2 id="summary-heading">Compliance by subscription</h2>
${summarySection(model)}
<h2 id="vms-heading">Virtual machines</h2>
${filterForm(model)}
${resultsSection(model)}
<h2 id="audits-heading">Last drift audits</h2>
${auditsSection(model.audits, model.now)}
`,
  });
}

function summarySection(model: OverviewModel): SafeHtml {
  if (model.summaries.length === 0) {
    return html`<section id="summary" aria-labelledby="summary-heading"><p>No VM recorded yet: the enforcer records a VM at its first pass (an event or a drift audit).</p></section>`;
  }
  return html`<section id="summary" aria-labelledby="summary-heading"><p class="muted">${model.total} VMs recorded. Share compliant = compliant or remediated, of the VMs the enforcer is responsible for (not ineligible, exempt or gone).</p>
<div class="cards">${model.summaries.map((s) => summaryCard(s, model.code))}</div></section>`;
}

function summaryCard(summary: SubscriptionSummary, code: string | undefined): SafeHtml {
  const share = summary.compliantShare === undefined ? "—" : `${Math.round(summary.compliantShare * 1000) / 10} %`;
  const present = COMPLIANCE_STATES.filter((s) => summary.counts[s] > 0);
  return html`<div class="card">
<h3><span class="sr-only">Subscription </span><a href="${query({ subscription: summary.subscriptionId, code })}" data-nav>${summary.subscriptionId}</a></h3>
<div><span class="share">${share}</span> compliant <span class="muted">· ${summary.total} VMs</span></div>
${stateBar(summary.counts, `States in subscription ${summary.subscriptionId}`)}
<ul class="legend">${present.map((s) => html`<li><span class="swatch s-${s}" aria-hidden="true">${swatch(s)}</span><a href="${query({ subscription: summary.subscriptionId, state: s, code })}" data-nav>${s}</a>: ${summary.counts[s]}</li>`)}</ul>
</div>`;
}

/** The legend's colour square, as SVG so it needs no inline style. */
function swatch(state: ComplianceState): SafeHtml {
  return html`<svg width="12" height="12" viewBox="0 0 12 12" focusable="false"><rect width="12" height="12" fill="${STATE_COLOURS[state]}"/></svg>`;
}

function filterForm(model: OverviewModel): SafeHtml {
  const q = model.query;
  return html`<form id="filters" class="filters" method="get" action="" role="search" aria-label="Filter the VMs">
${model.code ? html`<input type="hidden" name="code" value="${model.code}">` : ""}
<input type="hidden" name="sort" value="${q.sort === "name" ? "" : q.sort}">
<input type="hidden" name="dir" value="${q.dir === "asc" ? "" : q.dir}">
<div class="field"><label for="f-state">State</label><select id="f-state" name="state"><option value="">any state</option>${COMPLIANCE_STATES.map((s) => html`<option value="${s}"${q.state === s ? html` selected` : ""}>${s}</option>`)}</select></div>
<div class="field"><label for="f-subscription">Subscription</label><select id="f-subscription" name="subscription"><option value="">any subscription</option>${model.summaries.map((s) => html`<option value="${s.subscriptionId}"${q.subscription === s.subscriptionId ? html` selected` : ""}>${s.subscriptionId}</option>`)}</select></div>
<div class="field"><label for="f-q">Text</label><input id="f-q" type="search" name="q" value="${q.q}" placeholder="name, reason, principal…" maxlength="200"></div>
<button type="submit">Apply</button>
</form>`;
}

function resultsSection(model: OverviewModel): SafeHtml {
  const q = model.query;
  const pages = Math.max(1, Math.ceil(model.matched / q.top));
  const first = model.matched === 0 ? 0 : (q.page - 1) * q.top + 1;
  const last = Math.min(model.matched, q.page * q.top);
  const base = { state: q.state, subscription: q.subscription, q: q.q || undefined, sort: q.sort === "name" ? undefined : q.sort, dir: q.dir === "asc" ? undefined : q.dir, top: q.top === DASHBOARD_PAGE_SIZE.default ? undefined : q.top, code: model.code };
  const pager = pages > 1
    ? html`<nav class="pager" aria-label="Pages">
${q.page > 1 ? html`<a href="${query({ ...base, page: q.page - 1 })}" data-nav rel="prev">previous page</a>` : ""}
<span>page ${q.page} of ${pages}</span>
${q.page < pages ? html`<a href="${query({ ...base, page: q.page + 1 })}" data-nav rel="next">next page</a>` : ""}
</nav>`
    : "";
  return html`<section id="results" aria-labelledby="vms-heading">
<p id="count" aria-live="polite">${model.matched === model.total ? `${model.total} VMs` : `${model.matched} of ${model.total} VMs match`}${model.matched > 0 ? `, showing ${first}–${last}` : ""}.</p>
${model.rows.length === 0 ? html`<p>No VM matches these filters.</p>` : html`<table id="vms">
<caption class="sr-only">VMs and their login compliance; rows marked "attention" are in progress or have a grant expiring within a day</caption>
<thead><tr>${header("name", "VM", q, base)}${header("state", "State", q, base)}${header("reason", "Reason", q, base)}<th scope="col">Access</th><th scope="col">Diagnosis</th>${header("updated", "Last pass", q, base)}</tr></thead>
<tbody>${model.rows.map((vm) => vmRow(vm, model))}</tbody>
</table>`}
${pager}
</section>`;
}

function header(key: SortKey, label: string, q: TableQuery, base: Record<string, string | number | undefined>): SafeHtml {
  const active = q.sort === key;
  const nextDir = active && q.dir === "asc" ? "desc" : "asc";
  const sort = active ? (q.dir === "asc" ? "ascending" : "descending") : undefined;
  return html`<th scope="col"${sort ? html` aria-sort="${sort}"` : ""}><a href="${query({ ...base, sort: key === "name" ? undefined : key, dir: nextDir === "asc" ? undefined : nextDir })}" data-nav>${label}${active ? (q.dir === "asc" ? " ▲" : " ▼") : ""}</a></th>`;
}

function vmRow(vm: VmRecord, model: OverviewModel): SafeHtml {
  const expiring = vm.access.filter((a) => isExpiring(a.expiresAt, model.now));
  const attention = vm.state === "in-progress" || expiring.length > 0;
  return html`<tr data-state="${vm.state}"${attention ? html` class="attention"` : ""}>
<td><a href="${query({ vm: vm.vmId, code: model.code })}">${vm.name}</a><div class="small muted">${vm.resourceGroup} · <span class="id">${vm.subscriptionId}</span></div></td>
<td>${stateBadge(vm.state)}${vm.state === "in-progress" ? html`<span class="flag">waiting for ${vm.waitingFor ?? "Azure"}</span>` : ""}${expiring.length > 0 ? html`<span class="flag">grant expiring</span>` : ""}</td>
<td><code>${vm.reason}</code><div class="small">${vm.message}</div></td>
<td>${accessList(vm, model)}</td>
<td>${vm.diagnosis ? html`<code>${vm.diagnosis.code}</code><div class="small">${vm.diagnosis.message}</div>` : html`<span class="muted">none</span>`}</td>
<td><time datetime="${vm.updatedAt}">${formatTime(vm.updatedAt)}</time><div class="small muted">${ago(vm.updatedAt, model.now)} · ${vm.lastTrigger ?? "?"} · pass ${vm.passCount}</div></td>
</tr>`;
}

function accessList(vm: VmRecord, model: OverviewModel): SafeHtml {
  if (vm.access.length === 0 && vm.rejected.length === 0) return html`<span class="muted">none</span>`;
  return html`<ul class="plain">${vm.access.map((a) => html`<li>${a.role}: ${principal(a.principalId)}${a.expiresAt ? html` <span class="small${isExpiring(a.expiresAt, model.now) ? " flag" : " muted"}">until ${formatTime(a.expiresAt)}</span>` : ""}</li>`)}${vm.rejected.length > 0 ? html`<li class="muted">${vm.rejected.length} tag ${vm.rejected.length === 1 ? "entry" : "entries"} rejected</li>` : ""}</ul>`;
}

function auditsSection(audits: readonly AuditRun[], now: Date): SafeHtml {
  if (audits.length === 0) return html`<section id="audits" aria-labelledby="audits-heading"><p>No drift audit has run yet (it runs on the AUDIT_SCHEDULE timer).</p></section>`;
  return html`<section id="audits" aria-labelledby="audits-heading"><table>
<caption class="sr-only">The last drift audits, newest first</caption>
<thead><tr><th scope="col">Started</th><th scope="col">Duration</th><th scope="col">Trigger</th><th scope="col">Subscriptions</th><th scope="col">VMs</th><th scope="col">Passes queued</th><th scope="col">ARM requests</th><th scope="col">Errors</th><th scope="col">States found</th><th scope="col">Read through</th><th scope="col">Suspects</th></tr></thead>
<tbody>${audits.map((run) => html`<tr>
<td><time datetime="${run.startedAt}">${formatTime(run.startedAt)}</time><div class="small muted">${ago(run.startedAt, now)}</div></td>
<td>${formatDuration(run.durationMs)}</td>
<td>${run.trigger}</td>
<td>${run.subscriptions.length}</td>
<td>${run.vmCount}</td>
<td>${run.enqueued}</td>
<td>${run.armCalls}</td>
<td>${run.errors}</td>
<td class="small">${Object.entries(run.countsByState).map(([s, n]) => `${s} ${n}`).join(", ") || "—"}</td>
<td class="small">${run.selection ? `${run.selection.source === "resource-graph" ? "Resource Graph" : "ARM lists"} (${run.selection.requests.resourceGraph} + ${run.selection.requests.arm} requests)` : "ARM lists"}</td>
<td class="small">${suspectsText(run)}</td>
</tr>`)}</tbody></table></section>`;
}

/** "12 (plan-not-empty 9, unsettled 3) + 4 confirmed": what the audit could not vouch for, and its slice. */
function suspectsText(run: AuditRun): string {
  const selection = run.selection;
  if (!selection) return "every VM";
  if (selection.source === "arm") return "every VM";
  const reasons = Object.entries(selection.suspectReasons).sort((a, b) => b[1] - a[1]).map(([r, n]) => `${r} ${n}`).join(", ");
  return `${selection.suspects}${reasons ? ` (${reasons})` : ""} + ${selection.confirmed} confirmed`;
}

// --- one VM ----------------------------------------------------------------------------------

export function vmPage(model: VmModel, nonce: string): string {
  const record = model.record;
  const name = record?.name ?? model.vmId.split("/").pop() ?? model.vmId;
  const home = query({ code: model.code });
  return layout({
    title: `${name} · VM login compliance`,
    nonce,
    mode: model.mode,
    now: model.now,
    home,
    refreshSeconds: VM_REFRESH_SECONDS,
    body: html`
<p><a href="${home}">← all VMs</a></p>
<h2 id="vm-heading">${name}</h2>
<p class="id">${model.vmId}</p>
<div id="vm-live">
${record ? recordSection(record, model) : html`<p>No record yet (only log entries).</p>`}
<h2 id="grants-heading">Grants</h2>
${grantsSection(model)}
<h2 id="plan-heading">What a pass would do now</h2>
${planSection(model)}
<h2 id="log-heading">Log, newest first</h2>
${logSection(model.log, model)}
</div>
`,
  });
}

function recordSection(r: VmRecord, model: VmModel): SafeHtml {
  const rows: [string, SafeHtml | string | undefined][] = [
    ["State", html`${stateBadge(r.state)} <code>${r.reason}</code>`],
    ["Why", r.message],
    ["Waiting for", r.waitingFor],
    ["Started by the enforcer", r.started ? `${r.started.op} at ${formatTime(r.started.at)}${r.started.selfRepair ? " (self-repair)" : ""}` : undefined],
    ["Next look", r.followUpAt ? formatTime(r.followUpAt) : undefined],
    ["Expiry check", r.expiryCheckAt ? formatTime(r.expiryCheckAt) : undefined],
    ["Diagnosis", r.diagnosis ? html`<code>${r.diagnosis.code}</code> ${r.diagnosis.message}${r.diagnosis.remediation ? html`<div><strong>Fix:</strong> ${r.diagnosis.remediation}</div>` : ""}` : "none"],
    ["Hints", r.hints?.length ? html`${r.hints.map((h) => html`<div><code>${h.code}</code> ${h.message}</div>`)}` : undefined],
    ["OS", r.os],
    ["Location", r.location],
    ["Power state", r.powerState],
    ["Identity", r.identityType ? `${r.identityType}${r.identityPrincipalId ? ` (${r.identityPrincipalId})` : ""}` : undefined],
    ["Extension", r.extensionStatus],
    ["Entra device", r.device ? html`<code>${r.device.status}</code>${r.device.id ? html` object <code>${r.device.id}</code>` : ""}${r.device.deviceId ? html` device <code>${r.device.deviceId}</code>` : ""} <div class="small">${r.device.message}</div>` : undefined],
    ["Last trigger", r.lastTrigger],
    ["Last requested by", r.lastRequestedBy ? principal(r.lastRequestedBy) : undefined],
    ["Passes", String(r.passCount)],
    ["First seen", formatTime(r.firstSeenAt)],
    ["Last pass", html`${formatTime(r.updatedAt)} <span class="muted">(${ago(r.updatedAt, model.now)})</span>`],
  ];
  return html`<section aria-labelledby="vm-heading"><dl class="record">${rows.filter(([, v]) => v !== undefined && v !== "").map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl></section>`;
}

function grantsSection(model: VmModel): SafeHtml {
  const rejected = model.record?.rejected ?? [];
  const grants = model.grants.length === 0
    ? html`<p>No login granted by the enforcer on this VM.</p>`
    : html`<table><caption class="sr-only">Login role assignments the enforcer holds on this VM</caption>
<thead><tr><th scope="col">Role</th><th scope="col">Principal</th><th scope="col">Expires</th><th scope="col">Requested by</th><th scope="col">Granted</th></tr></thead>
<tbody>${model.grants.map((g: GrantView) => html`<tr${isExpiring(g.expiresAt, model.now) ? html` class="attention"` : ""}>
<td>${g.role}</td><td>${principal(g.principalId)}${g.principalType ? html` <span class="small muted">${g.principalType}</span>` : ""}</td>
<td>${g.expiresAt ? html`${formatTime(g.expiresAt)}${isExpiring(g.expiresAt, model.now) ? html` <span class="flag">expiring</span>` : ""}` : html`<span class="muted">no expiry</span>`}</td>
<td>${g.requestedBy ? principal(g.requestedBy) : html`<span class="muted">not in the recent log</span>`}</td>
<td>${g.grantedAt ? formatTime(g.grantedAt) : "—"}</td></tr>`)}</tbody></table>`;
  const refused = rejected.length === 0 ? "" : html`<h3>Tag entries not granted</h3><table><caption class="sr-only">Tag entries the enforcer refused</caption>
<thead><tr><th scope="col">Tag</th><th scope="col">Entry</th><th scope="col">Reason</th></tr></thead>
<tbody>${rejected.map((r) => html`<tr><td><code>${r.tag}</code></td><td><code>${r.entry}</code></td><td>${r.reason}</td></tr>`)}</tbody></table>`;
  return html`<section aria-labelledby="grants-heading">${grants}${refused}</section>`;
}

function planSection(model: VmModel): SafeHtml {
  const e = model.explanation;
  if (!e) return html`<section aria-labelledby="plan-heading"><p>${model.explanationNote ?? "No plan."}</p></section>`;
  const tags = Object.entries(e.tags);
  return html`<section aria-labelledby="plan-heading">
<p><strong>Eligibility:</strong> ${e.eligibility.verdict} (<code>${e.eligibility.reason}</code>)${describeEligibilityOs(e.eligibility) ? ` — ${describeEligibilityOs(e.eligibility)}` : ""}. ${e.eligibility.message}</p>
<p><strong>Access the tags ask for</strong>${e.desired.expiresAt ? html` (until ${formatTime(e.desired.expiresAt)}${e.desired.expired ? ", expired" : ""})` : ""}:</p>
<ul class="plain">${e.desired.grants.map((g) => html`<li>${g.role}: ${principal(g.principalId)} <span class="small muted">${g.principalType}</span></li>`)}${e.desired.rejected.map((r) => html`<li>refused <code>${r.entry}</code> from tag <code>${r.tag}</code>: ${r.message}</li>`)}${e.desired.grants.length + e.desired.rejected.length === 0 ? html`<li class="muted">none</li>` : ""}</ul>
<p><strong>Plan in ${e.mode} mode:</strong> ${e.plan.length === 0 ? "nothing to do; the VM is as it should be." : e.mode === "report" ? "a pass would record these steps and change nothing:" : "a pass would take these steps, in order:"}</p>
${e.plan.length > 0 ? html`<ol class="plan">${e.plan.map((a) => html`<li>${a.summary}</li>`)}</ol>` : ""}
${e.diagnosis ? html`<p><strong>Extension diagnosis:</strong> <code>${e.diagnosis.code}</code> ${e.diagnosis.meaning} <strong>Fix:</strong> ${e.diagnosis.remediation}</p>` : ""}
<details><summary>Tags as ARM returns them (${tags.length})</summary>
${tags.length === 0 ? html`<p>No tags.</p>` : html`<table><caption class="sr-only">The VM's tags</caption><thead><tr><th scope="col">Tag</th><th scope="col">Value</th></tr></thead><tbody>${tags.map(([k, v]) => html`<tr><td><code>${k}</code></td><td><code>${v}</code></td></tr>`)}</tbody></table>`}
</details>
</section>`;
}

function logSection(log: readonly LogEntry[], model: VmModel): SafeHtml {
  if (log.length === 0) return html`<section aria-labelledby="log-heading"><p>No log entries.</p></section>`;
  return html`<section aria-labelledby="log-heading"><table id="log"><caption class="sr-only">The VM's log, newest first</caption>
<thead><tr><th scope="col">Time</th><th scope="col">Kind</th><th scope="col">Trigger</th><th scope="col">What</th><th scope="col">Message</th><th scope="col">Requested by</th></tr></thead>
<tbody>${log.map((l) => html`<tr data-kind="${l.kind}">
<td><time datetime="${l.at}">${formatTime(l.at)}</time></td>
<td>${l.kind}</td>
<td>${l.trigger}</td>
<td>${[l.state, l.reason, l.action, l.result, l.errorCode].filter(Boolean).map((v, i) => html`${i > 0 ? " · " : ""}<code>${v}</code>`)}</td>
<td>${l.message}</td>
<td>${l.requestedBy ? principal(l.requestedBy) : ""}</td>
</tr>`)}</tbody></table></section>`;
}

// --- errors ----------------------------------------------------------------------------------

export function errorPage(status: number, message: string, nonce: string, code?: string): string {
  return layout({
    title: `${status} · VM login compliance`,
    nonce,
    home: query({ code }),
    body: html`<h2>${status === 404 ? "Not found" : "Bad request"}</h2><p>${message}</p><p><a href="${query({ code })}">Back to all VMs</a></p>`,
  });
}

// --- small pieces ----------------------------------------------------------------------------

function stateBadge(state: ComplianceState): SafeHtml {
  return html`<span class="badge s-${state}">${state}</span>`;
}

function principal(id: string): SafeHtml {
  return html`<span class="id">${id}</span>`;
}

function isExpiring(expiresAt: string | undefined, now: Date): boolean {
  if (!expiresAt) return false;
  const at = Date.parse(expiresAt);
  return Number.isFinite(at) && at - now.getTime() < EXPIRING_WITHIN_MS;
}

export function formatTime(iso: string): string {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC") : iso;
}

function ago(iso: string, now: Date): string {
  const seconds = Math.round((now.getTime() - Date.parse(iso)) / 1000);
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 0) return "in the future";
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} d ago`;
}

function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`;
}

