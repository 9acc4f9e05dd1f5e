import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { int, str } from "../domain/rows.ts";
import { type IngestEmailResult, ingestEmail } from "./ingest.ts";
import { parseEmail } from "./parse.ts";
import { type MailHarness, openMailHarness, rawMail } from "./testing.ts";
import { ATT, LVL_MESSAGE, outlookTnef, tnefBlock, tnefStream } from "./testing-tnef.ts";

let h: MailHarness;

beforeAll(async () => {
  h = await openMailHarness("email_tnef");
  await h.setConfig("verify_email_addrs", "0");
});
afterAll(async () => {
  await h?.close();
});

const ingest = (raw: Uint8Array) => ingestEmail(h.em, { raw, ip: "192.0.2.1" });

function created(r: IngestEmailResult) {
  if (r.kind !== "created") throw new Error(`expected a new ticket, got ${r.kind}`);
  return r;
}

async function withConfig<T>(settings: Record<string, string>, run: () => Promise<T>): Promise<T> {
  const before = await h.query(
    `SELECT \`key\`, value FROM ost_config WHERE namespace = 'core' AND \`key\` IN (${Object.keys(settings)
      .map(() => "?")
      .join(", ")})`,
    Object.keys(settings),
  );
  for (const [key, value] of Object.entries(settings)) await h.setConfig(key, value);
  try {
    return await run();
  } finally {
    for (const row of before) await h.setConfig(str(row, "key"), str(row, "value"));
  }
}

const png = Buffer.from(
  "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000a49444154789c63000100000500010d0a2db40000000049454e44ae426082",
  "hex",
);
const gif = Buffer.from("474946383961010001000000002c00000000010001000002024401003b", "hex");
const pdf = Buffer.from("%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n");

const winmail = outlookTnef({
  oemCodepage: 1252,
  htmlBody: Buffer.from(
    '<html><body><p>Caf\xe9 report attached.</p><p><img src="cid:image001.png@01DA0000.12345670"></p></body></html>',
    "latin1",
  ),
  importance: 2,
  files: [
    {
      title: "QUARTE~1.PDF",
      longName: "Quarterly report.pdf",
      mimeType: "application/pdf",
      data: pdf,
    },
    { title: "image001.png", mimeType: "image/png", contentId: "image001.png@01DA0000.12345670", data: png },
  ],
});

/** An Outlook mail carrying a winmail.dat next to its own text (and html) parts and an ordinary file. */
function outlookMail(o: {
  mid: string;
  tnef: Buffer;
  tnefType?: string;
  text?: string;
  html?: string;
  extraHeaders?: string[];
}): Uint8Array {
  const parts: string[] = [];
  if (o.text !== undefined) parts.push("--OUT", "Content-Type: text/plain; charset=utf-8", "", o.text);
  if (o.html !== undefined) parts.push("--OUT", "Content-Type: text/html; charset=utf-8", "", o.html);
  parts.push(
    "--OUT",
    `Content-Type: ${o.tnefType ?? "application/ms-tnef"}; name="winmail.dat"`,
    'Content-Disposition: attachment; filename="winmail.dat"',
    "Content-Transfer-Encoding: base64",
    "",
    o.tnef.toString("base64"),
    "--OUT",
    'Content-Type: image/gif; name="logo.gif"',
    'Content-Disposition: attachment; filename="logo.gif"',
    "Content-Transfer-Encoding: base64",
    "",
    gif.toString("base64"),
    "--OUT--",
    "",
  );
  return rawMail(
    [
      "From: Olga Outlook <olga@example.com>",
      "To: Support <support@example.com>",
      "Subject: Quarterly report",
      `Message-ID: ${o.mid}`,
      ...(o.extraHeaders ?? []),
      "MIME-Version: 1.0",
      'Content-Type: multipart/mixed; boundary="OUT"',
    ],
    parts.join("\n"),
  );
}

async function entry(entryId: number) {
  return h.one("SELECT body, format FROM ost_thread_entry WHERE id = ?", [entryId]);
}

async function files(entryId: number) {
  return h.query(
    "SELECT f.name, f.type, f.size, f.`key`, a.inline, c.filedata FROM ost_attachment a JOIN ost_file f ON f.id = a.file_id" +
      " JOIN ost_file_chunk c ON c.file_id = f.id AND c.chunk_id = 0 WHERE a.type = 'H' AND a.object_id = ? ORDER BY a.id",
    [entryId],
  );
}

describe("a winmail.dat (application/ms-tnef) part", () => {
  it("with rich text: its html body is the message, its attachments the only files (inline by Content-ID), its importance the priority", async () => {
    await withConfig({ enable_richtext: "1", use_email_priority: "1" }, async () => {
      const r = created(
        await ingest(
          outlookMail({
            mid: "<tnef-rich@mail.example.com>",
            tnef: winmail,
            text: "Plain text the TNEF body wins over.",
            html: "<p>Html part the TNEF body wins over.</p>",
            extraHeaders: ["X-Priority: 5"],
          }),
        ),
      );
      const stored = await files(r.entryId);
      expect(stored.map((f) => ({ ...f, key: undefined, filedata: undefined }))).toEqual([
        {
          name: "Quarterly report.pdf",
          type: "application/pdf",
          size: pdf.length,
          key: undefined,
          inline: 0,
          filedata: undefined,
        },
        {
          name: "image001.png",
          type: "image/png",
          size: png.length,
          key: undefined,
          inline: 1,
          filedata: undefined,
        },
      ]);
      expect(Buffer.from(stored[0]?.filedata as Buffer).equals(pdf)).toBe(true);
      expect(Buffer.from(stored[1]?.filedata as Buffer).equals(png)).toBe(true);
      const body = await entry(r.entryId);
      expect(str(body, "format")).toBe("html");
      expect(str(body, "body")).toContain("Café report attached.");
      expect(str(body, "body")).toContain(`src="cid:${str(stored[1] ?? {}, "key")}"`);
      expect(str(body, "body")).not.toContain("wins over");
      // Importance 2 (high) asks for urgency 2 and beats the X-Priority header's low.
      const priority = await h.one(
        "SELECT p.priority_urgency FROM ost_ticket__cdata d JOIN ost_ticket_priority p ON p.priority_id = d.priority WHERE d.ticket_id = ?",
        [r.ticketId],
      );
      expect(int(priority, "priority_urgency")).toBe(2);
    });
  });

  it("with rich text off: the mail's plain-text part is the message, the TNEF's files are still the only files", async () => {
    await withConfig({ enable_richtext: "0" }, async () => {
      const r = created(
        await ingest(
          outlookMail({ mid: "<tnef-text@mail.example.com>", tnef: winmail, text: "Report attached." }),
        ),
      );
      expect(await entry(r.entryId)).toEqual({ body: "Report attached.", format: "text" });
      expect((await files(r.entryId)).map((f) => f.name)).toEqual(["Quarterly report.pdf", "image001.png"]);
    });
  });

  it("with rich text off and no plain-text part: the TNEF html body turned into text", async () => {
    await withConfig({ enable_richtext: "0" }, async () => {
      const r = created(await ingest(outlookMail({ mid: "<tnef-h2t@mail.example.com>", tnef: winmail })));
      expect(await entry(r.entryId)).toEqual({ body: "Café report attached.", format: "text" });
    });
  });

  it("that does not decode stays an ordinary attachment, and the mail's own files are kept", async () => {
    const corrupt = tnefStream([
      tnefBlock(LVL_MESSAGE, ATT.tnefVersion, Buffer.from([0, 0, 1, 0])),
      tnefBlock(LVL_MESSAGE, ATT.msgProps, Buffer.from([1, 0, 0, 0, 3, 0, 0x17, 0, 2, 0, 0, 0]), 0x1234),
    ]);
    const raw = outlookMail({ mid: "<tnef-bad@mail.example.com>", tnef: corrupt, text: "Corrupt one." });
    expect((await parseEmail(raw)).notes).toEqual([
      "TNEF parsing exception: Corrupted block. 001d: Invalid checksum, expected 1234",
    ]);
    const r = created(await ingest(raw));
    const stored = await files(r.entryId);
    expect(stored.map((f) => [f.name, f.type, f.size])).toEqual([
      ["winmail.dat", "application/ms-tnef", corrupt.length],
      ["logo.gif", "image/gif", gif.length],
    ]);
    expect(Buffer.from(stored[0]?.filedata as Buffer).equals(corrupt)).toBe(true);
    expect(str(await entry(r.entryId), "body")).toContain("Corrupt one.");
  });

  it("is recognised only by the exact lower-case type, as osTicket compares it", async () => {
    const r = created(
      await ingest(
        outlookMail({
          mid: "<tnef-case@mail.example.com>",
          tnef: winmail,
          tnefType: "Application/MS-TNEF",
          text: "Upper case.",
        }),
      ),
    );
    expect((await files(r.entryId)).map((f) => [f.name, f.type])).toEqual([
      ["winmail.dat", "application/ms-tnef"],
      ["logo.gif", "image/gif"],
    ]);
  });
});
