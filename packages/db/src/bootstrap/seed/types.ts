/**
 * A seed value: a literal, `{ now: true }` for a timestamp the installer sets to NOW() (evaluated by the
 * DB server at bootstrap time), or `{ base64 }` for binary data.
 */
export type SeedValue = string | number | null | { now: true } | { base64: string };

export interface SeedTable {
  table: string;
  columns: readonly string[];
  rows: readonly (readonly SeedValue[])[];
}
