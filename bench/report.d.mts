/** Renders a run's results (the JSON run.mjs writes) as docs/benchmarks.md, keeping the analysis of `previousPath`. */
export function renderReport(report: unknown, previousPath?: string): string;
