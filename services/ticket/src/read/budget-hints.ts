import { BoundedMap } from "@ostmesh/kit/cache/bounded-map.ts";

/**
 * How many index rows the first page of a search needed last time, by query, page size, visibility and
 * filters, when that was more than the usual first read: fetching rows costs InnoDB about as much as ranking
 * them (a common word's first page at 1M tickets: 0.08 s for 400 rows, 0.29 s for 32,768), so a repeated
 * search reads about what it needs in one go instead of a small read and then the bound. Only the size of
 * the read comes from here: a page it does not settle is read again with the bound, as before.
 */
export class BudgetHints {
  readonly #rows: BoundedMap<string, number>;

  constructor(limit = 1000) {
    this.#rows = new BoundedMap({ limit });
  }

  get(key: string): number | undefined {
    return this.#rows.get(key);
  }

  /** Keeps `rowsNeeded` with a quarter to spare for matches added since (none: forget the key). */
  remember(key: string, rowsNeeded: number | undefined): void {
    if (rowsNeeded === undefined) this.#rows.delete(key);
    else this.#rows.set(key, Math.ceil(rowsNeeded * 1.25));
  }
}
