/**
 * The page's only style sheet and script, inlined under the response's nonce so that the
 * Content-Security-Policy can forbid everything else (no CDN, no inline handlers, no eval).
 */

export const STYLE = `
:root{--fg:#1f2328;--muted:#57606a;--line:#d0d7de;--bg:#fff;--soft:#f6f8fa;--warn:#fff8c5;--warn-line:#9a6700;--link:#0550ae}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
header,main{padding:0 1.25rem}
header{border-bottom:1px solid var(--line);background:var(--soft);display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:baseline;padding-top:.6rem;padding-bottom:.6rem}
header h1{font-size:1.25rem;margin:0}
a{color:var(--link)}
h2{font-size:1.1rem;margin:1.4rem 0 .5rem}
.muted{color:var(--muted)}
.mode{font-weight:600}
.cards{display:flex;flex-wrap:wrap;gap:1rem}
.card{border:1px solid var(--line);border-radius:6px;padding:.6rem .8rem;min-width:18rem;flex:1 1 22rem;max-width:40rem}
.card h3{font-size:1rem;margin:0 0 .3rem;word-break:break-all}
.share{font-size:1.4rem;font-weight:600}
.legend{list-style:none;padding:0;margin:.4rem 0 0;display:flex;flex-wrap:wrap;gap:.2rem .9rem}
.swatch{display:inline-block;width:.75rem;height:.75rem;border-radius:2px;margin-right:.3rem;vertical-align:-1px;border:1px solid #0003}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:flex-end;margin:.5rem 0}
form.filters .field{display:flex;flex-direction:column}
form.filters label{font-size:.85rem;color:var(--muted)}
input,select,button{font:inherit;padding:.25rem .4rem;border:1px solid #8c959f;border-radius:4px;background:#fff;color:var(--fg)}
button{cursor:pointer;background:var(--soft)}
table{border-collapse:collapse;width:100%;margin:.3rem 0}
th,td{border-bottom:1px solid var(--line);padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:var(--soft);white-space:nowrap}
th a{color:var(--fg);text-decoration:none}
th a:hover,th a:focus{text-decoration:underline}
tr.attention td{background:var(--warn)}
tr.attention td:first-child{box-shadow:inset 4px 0 0 var(--warn-line)}
.badge{display:inline-block;padding:0 .45rem;border-radius:1rem;font-size:.8rem;font-weight:600;border:1px solid #0002;white-space:nowrap}
.s-compliant,.s-remediated{background:#dafbe1;color:#0b4a1b}
.s-in-progress,.s-would-remediate{background:#fff1b3;color:#5c3d00}
.s-failed,.s-conflict{background:#ffebe9;color:#86061d}
.s-ineligible,.s-exempt,.s-gone{background:#eaeef2;color:#32383f}
.s-deferred{background:#fbefff;color:#512a97}
.flag{display:inline-block;font-size:.78rem;font-weight:600;color:#5c3d00;background:#fff1b3;border-radius:3px;padding:0 .3rem;margin-left:.2rem}
.small{font-size:.85rem}
code,.id{font-family:ui-monospace,SFMono-Regular,Consolas,monospace;font-size:.82rem;word-break:break-all}
ul.plain{margin:0;padding-left:1.1rem}
nav.pager{display:flex;gap:1rem;align-items:center;margin:.5rem 0}
dl.record{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}
dl.record dt{color:var(--muted)}
dl.record dd{margin:0;word-break:break-word}
ol.plan li{margin:.2rem 0}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
`;

/**
 * Progressive enhancement only: every control is a link or a GET form that works without it. With
 * it, filters apply as one types, sorting and paging stay on the page, and the live regions are
 * refreshed every few seconds (the demo converging). New HTML comes from the same server-rendered,
 * escaped page and is parsed inertly (DOMParser runs no script); no value is ever inserted as markup
 * from anywhere else.
 */
export const SCRIPT = `
(() => {
  const REGIONS = ["summary", "results", "audits", "vm-live"];
  const form = document.getElementById("filters");
  let typing, busy = false;
  async function load(url, remember) {
    if (busy && !remember) return;
    busy = true;
    try {
      const response = await fetch(url, { headers: { accept: "text/html" }, credentials: "same-origin", cache: "no-store" });
      if (!response.ok) return;
      const next = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const id of REGIONS) {
        const fresh = next.getElementById(id);
        const old = document.getElementById(id);
        if (fresh && old) old.replaceWith(document.adoptNode(fresh));
      }
      if (remember) {
        history.replaceState(null, "", url);
        const params = new URL(url, location.href).searchParams;
        for (const name of ["sort", "dir"]) {
          const field = form && form.elements.namedItem(name);
          if (field) field.value = params.get(name) || "";
        }
      }
      const stamp = document.getElementById("refreshed");
      if (stamp) stamp.textContent = "updated " + new Date().toLocaleTimeString();
    } catch (_) {
      // Offline for a moment: the next tick tries again.
    } finally {
      busy = false;
    }
  }
  function formUrl() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) if (String(value) !== "") params.set(key, String(value));
    return "?" + params.toString();
  }
  if (form) {
    form.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(() => load(formUrl(), true), 200); });
    form.addEventListener("submit", (event) => { event.preventDefault(); clearTimeout(typing); load(formUrl(), true); });
  }
  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element ? event.target.closest("a[data-nav]") : null;
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    load(link.getAttribute("href"), true);
  });
  const every = Number(document.body.dataset.refreshSeconds || 0) * 1000;
  if (every > 0) setInterval(() => { if (!document.hidden) load(location.href, false); }, every);
})();
`;
