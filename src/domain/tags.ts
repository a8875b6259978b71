/**
 * Tag lookup as Azure does it: tag *names* are case-insensitive, values are kept as written.
 * ARM does not store two names that differ only by case, but a hand-made payload (or another
 * source of tags) can carry both, so every match is returned, sorted by name for a deterministic
 * answer, and the caller decides what an ambiguous tag means.
 */
export interface TagMatch {
  readonly name: string;
  readonly value: string;
}

export function findTags(tags: Readonly<Record<string, string>> | undefined, name: string): TagMatch[] {
  if (!tags) return [];
  const wanted = name.toLowerCase();
  return Object.entries(tags)
    .filter(([key]) => key.toLowerCase() === wanted)
    .map(([key, value]) => ({ name: key, value: typeof value === "string" ? value : String(value) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
