/**
 * Reversible encoding of arbitrary strings (ARM resource ids, event ids) into Table Storage keys.
 *
 * Table keys forbid `/ \ # ?` and the control characters U+0000–U+001F and U+007F–U+009F, and are
 * limited to 1 KiB. Beyond the documented list, `%`, `'` and `+` have tripped up key handling in
 * URLs (the service and Azurite decode them differently), so only a conservative set passes through:
 * letters, digits, `-`, `_` and `.`. `/` — most of an ARM id — becomes `|` so keys stay readable;
 * every other character, `|` and `~` included, becomes `~` plus four hex digits of its UTF-16 code
 * unit. Working on code units (not code points) keeps even lone surrogates reversible.
 */

/** The service limit is 1 KiB; encoded keys are pure ASCII, so characters and bytes coincide. */
export const MAX_KEY_LENGTH = 1024;

const PASS_THROUGH = /^[A-Za-z0-9._-]$/;
const ESCAPE = /~([0-9A-F]{4})/y;

export function encodeKey(value: string): string {
  if (typeof value !== "string") {
    throw new TypeError(`encodeKey expects a string, got ${typeof value}.`);
  }
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const ch = value.charAt(i);
    if (ch === "/") out += "|";
    else if (PASS_THROUGH.test(ch)) out += ch;
    else out += "~" + value.charCodeAt(i).toString(16).toUpperCase().padStart(4, "0");
  }
  if (out.length > MAX_KEY_LENGTH) {
    throw new Error(
      `Table key too long: "${truncateForMessage(value)}" encodes to ${out.length} characters; ` +
        `Table Storage allows ${MAX_KEY_LENGTH}.`,
    );
  }
  return out;
}

/** Inverse of `encodeKey`; rejects anything `encodeKey` could not have produced. */
export function decodeKey(key: string): string {
  let out = "";
  let i = 0;
  while (i < key.length) {
    const ch = key.charAt(i);
    if (ch === "|") {
      out += "/";
      i += 1;
    } else if (ch === "~") {
      ESCAPE.lastIndex = i;
      const match = ESCAPE.exec(key);
      const code = match?.[1] !== undefined ? parseInt(match[1], 16) : NaN;
      const decoded = String.fromCharCode(code);
      // A non-canonical escape (e.g. `~0041` for `A`) would let two keys decode to one value.
      if (Number.isNaN(code) || decoded === "/" || PASS_THROUGH.test(decoded)) {
        throw new Error(`Not an encoded table key: bad escape at position ${i} in "${truncateForMessage(key)}".`);
      }
      out += decoded;
      i += 5;
    } else if (PASS_THROUGH.test(ch)) {
      out += ch;
      i += 1;
    } else {
      throw new Error(
        `Not an encoded table key: unexpected character ${JSON.stringify(ch)} at position ${i} in "${truncateForMessage(key)}".`,
      );
    }
  }
  return out;
}

/**
 * The key of a VM in every table. ARM resource ids are case-insensitive and ARM itself returns
 * them in varying case (events often lower-case the resource group), so lookups go through the
 * lower-cased id; the record keeps the id as observed.
 */
export function vmKey(vmId: string): string {
  if (typeof vmId !== "string" || vmId.trim() === "") {
    throw new Error(`A VM id is required to build a table key, got ${JSON.stringify(vmId)}.`);
  }
  return encodeKey(vmId.toLowerCase());
}

function truncateForMessage(value: string): string {
  return value.length > 120 ? `${value.slice(0, 120)}…` : value;
}
