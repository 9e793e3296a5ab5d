// Numbers and tables for the Markdown report.

/** @param {number | null | undefined} ms */
export function ms(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(0)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** @param {number | null | undefined} value @param {number} [digits] */
export function num(value, digits = 0) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** Parley's value divided by the target's: below 1 means Parley needs less. @param {number | undefined} parley @param {number | undefined} other */
export function ratio(parley, other) {
  if (
    parley === undefined ||
    other === undefined ||
    !Number.isFinite(parley) ||
    !Number.isFinite(other) ||
    other === 0
  ) {
    return "–";
  }
  return `${(parley / other).toFixed(2)}×`;
}

/** @param {number[]} values */
export function median(values) {
  const finite = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  return /** @type {number} */ (finite[Math.floor((finite.length - 1) / 2)]);
}

/** @param {string[]} header @param {string[][]} rows */
export function table(header, rows) {
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((row) => `| ${row.join(" | ")} |`),
  ].join("\n");
}
