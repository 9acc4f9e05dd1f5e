/**
 * Tails a table by its AUTO_INCREMENT id when rows may commit out of order: an id missing from a read may
 * belong to a transaction still in flight (it shows up later) or to one that rolled back (it never does).
 *
 * `position`: every id up to it is handled (the durable cursor). `highest`: the largest id read so far.
 * Ids in between that are not handled yet (missing, or read but deferred by the caller) are re-read by id
 * on later cycles; one that stays unhandled for `gapTimeoutMs` is given up on, so a rolled-back id holds the
 * cursor only that long. New rows are read from `highest` on, so a held cursor never stalls the tail.
 * Re-reading a row is harmless: every decision on a row is recorded once (see capture.ts).
 */
export class TailCursor {
  readonly #gapTimeoutMs: number;
  /** Ids above `position` already handled. */
  readonly #handled = new Set<number>();
  /** Start of a run of unhandled ids -> when it was first seen. */
  readonly #firstSeen = new Map<number, number>();
  #position: number;
  #highest: number;

  constructor(position: number, gapTimeoutMs: number) {
    this.#position = position;
    this.#highest = position;
    this.#gapTimeoutMs = gapTimeoutMs;
  }

  get position(): number {
    return this.#position;
  }

  get highest(): number {
    return this.#highest;
  }

  /** Unhandled ids between the cursor and the highest id read (at most `limit`, lowest first). */
  missing(limit = 5_000): number[] {
    const ids: number[] = [];
    for (let id = this.#position + 1; id <= this.#highest && ids.length < limit; id++)
      if (!this.#handled.has(id)) ids.push(id);
    return ids;
  }

  /** Records the ids a read returned. */
  read(ids: Iterable<number>): void {
    for (const id of ids) if (id > this.#highest) this.#highest = id;
  }

  handle(id: number): void {
    if (id > this.#position) this.#handled.add(id);
  }

  isHandled(id: number): boolean {
    return id <= this.#position || this.#handled.has(id);
  }

  /** Moves the cursor over handled ids and over unhandled runs older than the gap timeout. */
  advance(now = Date.now()): number {
    let position = this.#position;
    let id = position + 1;
    while (id <= this.#highest) {
      if (this.#handled.has(id)) {
        position = id;
        id++;
        continue;
      }
      let end = id;
      while (end + 1 <= this.#highest && !this.#handled.has(end + 1)) end++;
      const first = this.#firstSeen.get(id) ?? now;
      this.#firstSeen.set(id, first);
      if (now - first < this.#gapTimeoutMs) break;
      this.#firstSeen.delete(id);
      position = end;
      id = end + 1;
    }
    for (const handled of this.#handled) if (handled <= position) this.#handled.delete(handled);
    for (const start of this.#firstSeen.keys()) if (start <= position) this.#firstSeen.delete(start);
    this.#position = position;
    return position;
  }
}
