import { createHash } from "node:crypto";
import { stripVTControlCharacters } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHUNK_SIZE, readFile } from "./files.ts";
import { storeFile } from "./store.ts";
import { openScratchStore, randomStream, type ScratchStore, sha256Of } from "./testing.ts";

/**
 * Memory stays bounded while storing: the store never pulls more than about two chunks ahead of what it has
 * written to the database (one chunk INSERT runs while the next chunk is received). Checked exactly (bytes pulled vs. chunk INSERTs executed, seen through the ORM's
 * query log) rather than through RSS, which the garbage collector makes noisy; `bench/attachment-store.ts`
 * prints the RSS figures for 10 MB and 100 MB.
 */
let store: ScratchStore;
let chunkInserts = 0;

beforeAll(async () => {
  store = await openScratchStore("attstream", {
    logger: (line) => {
      if (/^\[query\] INSERT INTO `ost_file_chunk`/.test(stripVTControlCharacters(line))) chunkInserts++;
    },
  });
});

afterAll(async () => {
  await store?.close();
});

describe("streaming store", () => {
  it("reads at most two chunks (plus one piece) ahead of the rows it wrote, for a 12 MB stream", async () => {
    const size = 12_000_000;
    const piece = 64 * 1024;
    const input = createHash("sha256");
    let pulled = 0;
    let maxAhead = 0;
    const startInserts = chunkInserts;
    const source = randomStream(size, piece, (p) => {
      input.update(p);
      pulled += p.byteLength;
      maxAhead = Math.max(maxAhead, pulled - (chunkInserts - startInserts) * CHUNK_SIZE);
    });
    const stored = await storeFile(store.em(), {
      name: "stream.bin",
      declaredType: "",
      source,
      maxBytes: size,
    });
    expect(stored.size).toBe(size);
    expect(chunkInserts - startInserts).toBe(Math.ceil(size / CHUNK_SIZE));
    // The source is read while the previous chunk is being written, never further ahead.
    expect(maxAhead).toBeGreaterThan(CHUNK_SIZE);
    expect(maxAhead).toBeLessThanOrEqual(2 * CHUNK_SIZE + piece);

    // Reading back is chunk by chunk too: bytes out equal bytes in.
    const content = await readFile(store.em(), stored.id);
    let largest = 0;
    const sizes = (async function* () {
      for await (const chunk of content.chunks()) {
        largest = Math.max(largest, chunk.byteLength);
        yield chunk;
      }
    })();
    expect(await sha256Of(sizes)).toEqual({ hash: input.digest("hex"), size });
    expect(largest).toBe(CHUNK_SIZE);
  });
});
