import { describe, expect, it } from "vitest";
import {
  ATT,
  LVL_ATTACHMENT,
  LVL_MESSAGE,
  mapiProperties,
  outlookTnef,
  PR,
  PT,
  tnefBlock,
  tnefStream,
} from "./testing-tnef.ts";
import { decodeTnef, TnefError, tnefFiles, tnefHtmlBody, tnefImportance } from "./tnef.ts";

const version = tnefBlock(LVL_MESSAGE, ATT.tnefVersion, Buffer.from([0, 0, 1, 0]));
const png = Buffer.from(
  "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000a49444154789c6300010000050001",
  "hex",
);

// Expected values are what osTicket 1.18.1's TnefStreamParser (include/tnef_decoder.php) makes of the same bytes.
describe("decodeTnef", () => {
  it("reads an Outlook winmail.dat: html body from the OEM code page, importance, files with names, types, ids", () => {
    const message = decodeTnef(
      outlookTnef({
        oemCodepage: 1252,
        htmlBody: Buffer.from("<p>Caf\xe9 <b>x</b></p>", "latin1"),
        importance: 2,
        files: [
          {
            title: "REPORT~1.PDF",
            longName: "dir/Report 2024 é.pdf",
            mimeType: "application/pdf",
            data: Buffer.from("%PDF-1.4 hello"),
          },
          { title: "image001.png", mimeType: "image/png", contentId: "image001.png@01D", data: png },
        ],
      }),
    );
    expect(tnefHtmlBody(message)).toBe("<p>Café <b>x</b></p>");
    expect(tnefImportance(message)).toBe(2);
    expect(tnefFiles(message)).toEqual([
      {
        name: "Report 2024 é.pdf",
        type: "application/pdf",
        cid: undefined,
        size: 14,
        data: Buffer.from("%PDF-1.4 hello"),
      },
      { name: "image001.png", type: "image/png", cid: "image001.png@01D", size: png.length, data: png },
    ]);
  });

  it("takes the html body's code page from PR_INTERNET_CPID without attOemCodepage (65001 is no iconv name: bytes kept)", () => {
    const message = decodeTnef(
      outlookTnef({
        htmlBody: Buffer.from("<p>café</p>"),
        internetCodepage: 65001,
        files: [{ title: "a.txt", data: Buffer.from("abc") }],
      }),
    );
    expect(tnefHtmlBody(message)).toBe("<p>café</p>");
    expect(tnefImportance(message)).toBeUndefined();
    expect(tnefFiles(message)).toEqual([
      { name: "a.txt", type: "", cid: undefined, size: 3, data: Buffer.from("abc") },
    ]);
  });

  it("never applies the last property of a list, and reads PR_BODY (plain text) not at all", () => {
    const message = decodeTnef(
      tnefStream([
        version,
        tnefBlock(
          LVL_MESSAGE,
          ATT.msgProps,
          mapiProperties([
            { id: PR.body, type: PT.string8, value: "plain body" },
            { id: PR.bodyHtml, type: PT.binary, value: Buffer.from("<p>x</p>") },
          ]),
        ),
        tnefBlock(LVL_ATTACHMENT, ATT.attachRendData, Buffer.alloc(14)),
        tnefBlock(LVL_ATTACHMENT, ATT.attachData, Buffer.from("data")),
        tnefBlock(
          LVL_ATTACHMENT,
          ATT.attachment,
          mapiProperties([
            { id: PR.attachLongFilename, type: PT.string8, value: "long.txt" },
            { id: PR.attachMimeTag, type: PT.string8, value: "text/plain" },
          ]),
        ),
      ]),
    );
    expect(tnefHtmlBody(message)).toBeUndefined();
    expect(tnefFiles(message)).toEqual([
      { name: "long.txt", type: "", cid: undefined, size: 4, data: Buffer.from("data") },
    ]);
  });

  it("reads the first block twice; a transport filename loses its NULs; PR_ATTACH_DATA_BIN without attAttachData is not deduplicated", () => {
    const twice = decodeTnef(
      tnefStream([
        tnefBlock(LVL_ATTACHMENT, ATT.attachRendData, Buffer.alloc(14)),
        tnefBlock(LVL_ATTACHMENT, ATT.attachTitle, Buffer.from("t.bin\0\0")),
        tnefBlock(LVL_ATTACHMENT, ATT.attachData, Buffer.alloc(0)),
      ]),
    );
    expect(tnefFiles(twice)).toEqual([
      { name: "", type: "", cid: undefined, size: undefined, data: undefined },
      { name: "t.bin", type: "", cid: undefined, size: undefined, data: Buffer.alloc(0) },
    ]);
    const named = decodeTnef(
      tnefStream([
        version,
        tnefBlock(LVL_ATTACHMENT, ATT.attachRendData, Buffer.alloc(14)),
        tnefBlock(
          LVL_ATTACHMENT,
          ATT.attachment,
          mapiProperties([
            // A named property with a string name sets the property of that name.
            { id: 0x8001, type: PT.string8, name: "AttachLongFilename", value: "named.doc" },
            { id: PR.attachDataBin, type: PT.binary, value: Buffer.from("bin!") },
            { id: 0x0e20, type: PT.boolean, value: 1 },
            { id: 1, type: PT.int32, value: 3 },
          ]),
        ),
      ]),
    );
    expect(tnefFiles(named)).toEqual([
      { name: "named.doc", type: "", cid: undefined, size: undefined, data: Buffer.from("bin!") },
    ]);
  });

  it("gives an empty message for a stream of just the header", () => {
    const message = decodeTnef(tnefStream([]));
    expect(tnefFiles(message)).toEqual([]);
    expect(tnefHtmlBody(message)).toBeUndefined();
  });

  it("fails with osTicket's TnefException texts on a bad signature, checksum or property type", () => {
    expect(() => decodeTnef(Buffer.from("not a tnef stream at all"))).toThrow(
      new TnefError("20746f6e: Invalid signature magic"),
    );
    expect(() =>
      decodeTnef(
        tnefStream([
          version,
          tnefBlock(LVL_MESSAGE, ATT.msgProps, Buffer.from([1, 0, 0, 0, 3, 0, 0x17, 0]), 7),
        ]),
      ),
    ).toThrow(new TnefError("Corrupted block. 001b: Invalid checksum, expected 0007"));
    expect(() =>
      decodeTnef(
        tnefStream([
          version,
          tnefBlock(
            LVL_MESSAGE,
            ATT.msgProps,
            mapiProperties([
              { id: 0x1234, type: 0x99, value: Buffer.alloc(4) },
              { id: 1, type: PT.int32, value: 3 },
            ]),
          ),
        ]),
      ),
    ).toThrow(new TnefError("0x0099: Bad data type"));
  });
});
