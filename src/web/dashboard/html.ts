/**
 * A tagged template that escapes every interpolated value, so markup can only come from the
 * template literals themselves (or from another `html` result). VM names, tags, reasons, log
 * messages and principal ids all come from Azure or from whoever may write a tag: none of them is
 * ever trusted as markup. Pure: no I/O, no clock.
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;" };

/** Text for an element or a quoted attribute value. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (ch) => ESCAPES[ch] ?? ch);
}

export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): SafeHtml {
  let out = strings[0] ?? "";
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? "");
  });
  return new SafeHtml(out);
}

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return "";
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join("");
  return escapeHtml(String(value));
}

/** A link target inside the dashboard: only relative query strings, built from checked parameters. */
export function query(params: Readonly<Record<string, string | number | undefined>>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== "") search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : "?";
}

/**
 * The page's own constant style sheet or script, inlined as is (entity escapes would break CSS and
 * JavaScript). Never for data: it refuses text that could close its element.
 */
export function inlineAsset(text: string): SafeHtml {
  if (/<\/|<!--/.test(text)) throw new Error("An inline asset may not contain '</' or '<!--': it would end its element early.");
  return new SafeHtml(text);
}
