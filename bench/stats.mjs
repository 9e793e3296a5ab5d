// Summaries of latency samples (milliseconds), by nearest rank.

/**
 * @typedef {{ count: number, p50: number, p90: number, p99: number, max: number, mean: number }} Summary
 */

/**
 * @param {number[]} samples
 * @returns {Summary}
 */
export function summarize(samples) {
  if (samples.length === 0)
    return { count: 0, p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, max: Number.NaN, mean: Number.NaN };
  const sorted = Float64Array.from(samples).sort();
  const rank = (/** @type {number} */ q) =>
    /** @type {number} */ (sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]);
  let total = 0;
  for (const sample of sorted) total += sample;
  return {
    count: sorted.length,
    p50: rank(0.5),
    p90: rank(0.9),
    p99: rank(0.99),
    max: /** @type {number} */ (sorted[sorted.length - 1]),
    mean: total / sorted.length,
  };
}

/** @param {number} ms */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
