import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileNotFoundError, storeFile } from "../storage/index.ts";
import { run } from "../storage/sql.ts";
import { collect, openScratchStore, type ScratchStore } from "../storage/testing.ts";
import { ExpiredDownloadLinkError } from "./errors.ts";
import { openDownloadLink } from "./open.ts";
import { DownloadLinkSigner } from "./signer.ts";

let store: ScratchStore;
let now = Date.now();
const signer = new DownloadLinkSigner({ secret: "download-link-test-secret-0123456789", now: () => now });

beforeAll(async () => {
  store = await openScratchStore("attlinks");
});

afterAll(async () => {
  await store?.close();
});

describe("openDownloadLink", () => {
  it("opens the file a genuine link names", async () => {
    const file = await storeFile(store.em(), {
      name: "report.txt",
      declaredType: "text/plain",
      source: Buffer.from("quarterly numbers"),
      maxBytes: 100,
    });
    const token = signer.sign({ fileId: file.id, key: file.key, ttlSeconds: 60, disposition: "attachment" });
    const { claims, content } = await openDownloadLink(store.em(), signer, token);
    expect(claims.disposition).toBe("attachment");
    expect(content.info).toMatchObject({ id: file.id, name: "report.txt" });
    expect((await collect(content.chunks())).toString()).toBe("quarterly numbers");

    now += 61_000;
    await expect(openDownloadLink(store.em(), signer, token)).rejects.toThrow(ExpiredDownloadLinkError);
  });

  it("treats a link whose file changed key, or is gone, as not found", async () => {
    const file = await storeFile(store.em(), {
      name: "a.txt",
      declaredType: "text/plain",
      source: Buffer.from("replaced later"),
      maxBytes: 100,
    });
    const token = signer.sign({ fileId: file.id, key: file.key, ttlSeconds: 60 });
    await run(store.em(), "UPDATE ost_file SET `key` = 'another-key' WHERE id = ?", [file.id]);
    await expect(openDownloadLink(store.em(), signer, token)).rejects.toThrow(FileNotFoundError);
    const gone = signer.sign({ fileId: 999_999, key: "k", ttlSeconds: 60 });
    await expect(openDownloadLink(store.em(), signer, gone)).rejects.toThrow(FileNotFoundError);
  });
});
