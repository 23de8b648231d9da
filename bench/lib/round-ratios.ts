import { median } from "./stats";

/**
 * Median of per-round ratios. Rounds are interleaved, so a target and its peer measured in the
 * same round saw about the same background load; on a shared machine whose load swings between
 * rounds, this is steadier than the ratio of the two medians.
 */
export function medianRatio(values: readonly (number | undefined)[], bases: readonly (number | undefined)[]): number {
  const ratios: number[] = [];
  values.forEach((value, round) => {
    const base = bases[round];
    if (value !== undefined && base !== undefined && base > 0) ratios.push(value / base);
  });
  return median(ratios);
}
