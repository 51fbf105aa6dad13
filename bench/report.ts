/** Shared by the benchmarks: percentiles and a plain table. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export function printTable(title: string, rows: ReadonlyArray<readonly [string, string]>): void {
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(`\n${title}`);
  console.log('-'.repeat(w + 40));
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
  console.log('-'.repeat(w + 40));
}
