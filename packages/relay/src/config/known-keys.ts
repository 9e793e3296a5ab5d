/**
 * Refuses configuration keys the relay does not know, naming their path: a misspelt `"prot": 9200` must stop
 * the start, not leave the relay on its default port.
 */
import { InvalidArgumentError } from "@parley/protocol";

/** Edit distance, for suggesting the key that was probably meant. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(
        (row[j] ?? 0) + 1,
        (next[j - 1] ?? 0) + 1,
        (row[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    row = next;
  }
  return row[b.length] ?? 0;
}

/**
 * Throws {@link InvalidArgumentError} (`config.<path>.<key>`) for the first key of `raw` not in `known`. Keys
 * starting with `//` are comments (JSON has none), so an example config can explain itself.
 */
export function assertKnownKeys(raw: Record<string, unknown>, known: readonly string[], path: string): void {
  for (const key of Object.keys(raw)) {
    if (known.includes(key) || key.startsWith("//")) continue;
    const near = known.filter((candidate) => distance(key.toLowerCase(), candidate.toLowerCase()) <= 2);
    const hint = near.length > 0 ? `; did you mean "${near[0]}"?` : `; known: ${known.join(", ")}`;
    throw new InvalidArgumentError(`config.${path === "" ? "" : `${path}.`}${key}`, `is not a known option${hint}`);
  }
}
