/**
 * Values in messages come from VMs, tags and agents that anyone with Contributor (or the guest
 * itself) can write, and the messages end up in logs and tables. So a value is shown as is only
 * when it is plainly harmless; anything else is quoted, escaped and cut short.
 */
export function quoteInput(value: unknown, max = 200): string {
  const text = typeof value === "string" ? value : String(value);
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(cut);
}

/** `deallocated`, `Standard_D2ps_v5` as they are; anything unusual quoted by `quoteInput`. */
export function showValue(value: unknown, max = 80): string {
  const text = typeof value === "string" ? value : String(value);
  return /^[A-Za-z0-9_.:/()-]+( [A-Za-z0-9_.:/()-]+)*$/.test(text) && text.length <= max ? text : quoteInput(text, max);
}
