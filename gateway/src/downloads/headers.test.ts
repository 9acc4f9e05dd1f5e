import { describe, expect, it } from "vitest";
import {
  contentDisposition,
  entityTag,
  ifRangeHolds,
  isRiskyType,
  noneMatch,
  parseRange,
  rangeRequest,
} from "./headers.ts";

describe("parseRange", () => {
  const size = 1000;
  it.each([
    ["bytes=0-99", { start: 0, end: 99 }],
    ["bytes=500-", { start: 500, end: 999 }],
    ["bytes=-100", { start: 900, end: 999 }],
    ["bytes=-5000", { start: 0, end: 999 }],
    ["bytes=990-5000", { start: 990, end: 999 }],
    ["BYTES = 10 - 20", { start: 10, end: 20 }],
    ["bytes=999-999", { start: 999, end: 999 }],
  ])("%s is served as a range", (header, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });

  it.each([["bytes=1000-"], ["bytes=1000-2000"], ["bytes=-0"]])("%s cannot be satisfied", (header) => {
    expect(parseRange(header, size)).toBe("unsatisfiable");
  });

  it.each([
    [undefined],
    ["bytes=0-1,5-6"],
    ["items=0-5"],
    ["bytes=5-1"],
    ["bytes=-"],
    ["bytes=abc"],
    ["bytes=99999999999999999999-"],
  ])("%s is ignored (whole file)", (header) => {
    expect(parseRange(header, size)).toBeUndefined();
  });

  it("treats every range of an empty file as unsatisfiable", () => {
    expect(parseRange("bytes=0-", 0)).toBe("unsatisfiable");
    expect(parseRange("bytes=-1", 0)).toBe("unsatisfiable");
  });
});

describe("rangeRequest", () => {
  it.each([
    ["bytes=0-99", { offset: 0, length: 100 }],
    ["bytes=500-", { offset: 500, length: 0 }],
    ["bytes=-100", { suffix: 100 }],
    ["BYTES = 10 - 20", { offset: 10, length: 11 }],
    ["bytes=1000-2000", { offset: 1000, length: 1001 }],
  ])("%s asks for %o", (header, expected) => {
    expect(rangeRequest(header)).toEqual(expected);
  });

  it.each([[undefined], ["bytes=-0"], ["bytes=0-1,5-6"], ["bytes=5-1"], ["bytes=abc"]])(
    "%s asks for the whole file",
    (header) => {
      expect(rangeRequest(header)).toBeUndefined();
    },
  );

  it("asks for exactly what parseRange serves, at any size", () => {
    const headers = ["bytes=0-0", "bytes=0-", "bytes=-1", "bytes=-7", "bytes=3-5", "bytes=9-", "bytes=4-100"];
    for (const size of [0, 1, 5, 10]) {
      for (const header of headers) {
        const asked = rangeRequest(header);
        const served = parseRange(header, size);
        if (asked === undefined || served === undefined) throw new Error(header);
        // What the attachment service streams for `asked` (DownloadFileRequest.range).
        let streamed: { start: number; end: number } | "unsatisfiable";
        if ("suffix" in asked)
          streamed = size > 0 ? { start: Math.max(0, size - asked.suffix), end: size - 1 } : "unsatisfiable";
        else if (asked.offset >= size) streamed = "unsatisfiable";
        else
          streamed = {
            start: asked.offset,
            end: (asked.length === 0 ? size : Math.min(size, asked.offset + asked.length)) - 1,
          };
        expect(streamed, `${header} of ${size} bytes`).toEqual(served);
      }
    }
  });
});

describe("entity tags", () => {
  const tag = entityTag("u6OHcuadwdVvM755JAcFvj2DzAGATWKE");
  it("quotes the signature and matches If-None-Match weakly, If-Range strongly", () => {
    expect(tag).toBe('"u6OHcuadwdVvM755JAcFvj2DzAGATWKE"');
    expect(entityTag('a"b c')).toBe('"abc"');
    expect(noneMatch(tag, tag)).toBe(true);
    expect(noneMatch(`"x", W/${tag}`, tag)).toBe(true);
    expect(noneMatch("*", tag)).toBe(true);
    expect(noneMatch('"other"', tag)).toBe(false);
    expect(noneMatch(undefined, tag)).toBe(false);
    expect(ifRangeHolds(undefined, tag)).toBe(true);
    expect(ifRangeHolds(tag, tag)).toBe(true);
    expect(ifRangeHolds(`W/${tag}`, tag)).toBe(false);
    expect(ifRangeHolds("Wed, 21 Oct 2015 07:28:00 GMT", tag)).toBe(false);
  });
});

describe("contentDisposition", () => {
  it("gives an ASCII fallback and the exact UTF-8 name (RFC 6266, RFC 8187)", () => {
    expect(contentDisposition("inline", "report.pdf")).toBe(
      `inline; filename="report.pdf"; filename*=UTF-8''report.pdf`,
    );
    expect(contentDisposition("attachment", "résumé «final» 2024.pdf")).toBe(
      `attachment; filename="r_sum_ _final_ 2024.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%C2%ABfinal%C2%BB%202024.pdf`,
    );
  });

  it("never lets a name break out of the header or name a path", () => {
    const header = contentDisposition("attachment", 'evil"; filename=x.html\r\nSet-Cookie: a=b\\..\\/etc');
    expect(header).not.toMatch(/[\r\n]/);
    expect(header).toMatch(
      /^attachment; filename="evil_; filename=x.htmlSet-Cookie: a=b_..__etc"; filename\*=UTF-8''/,
    );
    // Characters outside RFC 8187's attr-char are percent-encoded, including ' ( ) * which encodeURIComponent keeps.
    expect(contentDisposition("inline", "a'(b)*.txt")).toBe(
      `inline; filename="a'(b)*.txt"; filename*=UTF-8''a%27%28b%29%2A.txt`,
    );
    expect(contentDisposition("inline", "\u0000\u0001")).toBe(
      `inline; filename="file"; filename*=UTF-8''file`,
    );
  });
});

describe("isRiskyType", () => {
  it("flags what a browser would render as an active document", () => {
    for (const type of [
      "text/html",
      "text/html; charset=utf-8",
      "application/xhtml+xml",
      "image/svg+xml",
      "text/xml",
      "application/xml",
      "text/javascript",
      "application/x-shockwave-flash",
      "",
    ]) {
      expect(isRiskyType(type), type).toBe(true);
    }
    for (const type of [
      "image/png",
      "application/pdf",
      "text/plain",
      "application/octet-stream",
      "video/mp4",
    ]) {
      expect(isRiskyType(type), type).toBe(false);
    }
  });
});
