/** Prints the bench's table: each figure, then its ratio to the ceilings and peers. */

export interface Row {
  group: string;
  what: string;
  value: number;
  unit: string;
  /** e.g. "1.42× BullMQ, 3.1× Rascal intake" */
  ratios?: string;
}

export function formatTable(rows: readonly Row[]): string {
  const cells = rows.map((row) => [row.group, row.what, formatValue(row.value, row.unit), row.ratios ?? ""]);
  const header = ["", "figure", "value", "ratio"];
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((cell) => cell[column]!.length)));
  const line = (cell: string[]) =>
    cell
      .map((text, column) => text.padEnd(widths[column]!))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((width) => "-".repeat(width)).join("  "), ...cells.map(line)].join("\n");
}

function formatValue(value: number, unit: string): string {
  if (!Number.isFinite(value)) return `n/a ${unit}`;
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })} ${unit}`;
}

export function times(ratio: number, name: string): string {
  return `${ratio.toFixed(2)}× ${name}`;
}
