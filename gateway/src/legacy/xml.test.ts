/**
 * XML error texts and positions as osTicket answers them: PHP 8's ext/xml over libxml2 (2.9), whose error
 * names come from ext/xml's compat table and whose column is the position after the last character read.
 * The expected strings were produced by that parser stack for these exact bodies.
 */
import { describe, expect, it } from "vitest";
import { decodeXml, noXmlError } from "./xml.ts";

function errorOf(body: string | Buffer): string {
  const result = decodeXml(typeof body === "string" ? Buffer.from(body, "utf8") : body);
  if (result.ok) throw new Error("expected the document to be refused");
  return result.error;
}

describe("XML errors as PHP reports them", () => {
  it.each([
    ["<ticket><name>x</nam></ticket>", "Mismatched tag at line 1:22"],
    ["<ticket>\n<name>x</nam></ticket>", "Mismatched tag at line 2:14"],
    ["<ticket><message>a&nbsp;b</message></ticket>", "Undeclared entity error at line 1:25"],
    ['<ticket><file name="a" name="b">x</file></ticket>', "Attribute redefined at line 1:33"],
    ['<t><a x="1" x="2"/></t>', "Attribute redefined at line 1:20"],
    ["<ticket>\n  <name>x</name>\n  <bad attr=x/>\n</ticket>", "Attribute without value at line 3:16"],
    ["<ticket><a>x</a></ticket><more/>", "Invalid document end at line 1:26"],
    ["<t><a>x</a></t>\n\n<b/>", "Invalid document end at line 3:1"],
    ["<ticket><subject>a < b</subject></ticket>", "XML_ERR_NAME_REQUIRED at line 1:21"],
    ['\n<?xml version="1.0"?><ticket/>', "Reserved XML Name at line 2:22"],
    ['{"email":"a@example.com"}', "Not well-formed (invalid token) at line 1:1"],
    ["<ticket a></ticket>", "Attribute without value at line 1:11"],
    ["<ticket>\u0001</ticket>", "Invalid character at line 1:10"],
    ["<ticket>\n<n>a\u0008</n></ticket>", "Invalid character at line 2:6"],
    ['<ticket a="<"></ticket>', "> required at line 1:12"],
  ])("%j → XML error: %s", (body, expected) => {
    expect(errorOf(body)).toBe(`XML error: ${expected}`);
  });

  it.each([
    [Buffer.from("<ticket><name>caf\xe9</name></ticket>", "latin1"), "Invalid character at line 1:19"],
    [Buffer.from("<t>\xe9</t>", "latin1"), "Invalid character at line 1:5"],
    [Buffer.from("<ticket>\n<n>ab\xff</n></ticket>", "latin1"), "Invalid character at line 2:7"],
    [Buffer.from("<t>abc\xc3</t>", "latin1"), "Invalid character at line 1:8"],
  ])("a byte that is not UTF-8 (%#) → XML error: %s", (body, expected) => {
    expect(errorOf(body)).toBe(`XML error: ${expected}`);
  });

  it("says 'No error' with the position after the last character for a document without data", () => {
    expect(noXmlError(Buffer.from(""))).toBe("XML error: No error at line 1:1");
    expect(noXmlError(Buffer.from("     "))).toBe("XML error: No error at line 1:6");
    expect(noXmlError(Buffer.from(" \n\n\n "))).toBe("XML error: No error at line 4:2");
    expect(noXmlError(Buffer.from("<ticket>hello</ticket>"))).toBe("XML error: No error at line 1:23");
    expect(noXmlError(Buffer.from("<ticket>hello</ticket>\n"))).toBe("XML error: No error at line 2:1");
    expect(noXmlError(Buffer.from('<?xml version="1.0"?>\n<ticket><a>x</a></ticket>'))).toBe(
      "XML error: No error at line 2:26",
    );
  });

  it.each([["ab"], ["<a>"], ["   "], ["\n \n"], ["<a/"]])(
    "a body under 4 bytes (%j) is not parsed at all: no data, 'No error at line 1:1'",
    (body) => {
      const result = decodeXml(Buffer.from(body));
      expect(result).toEqual({ ok: true, value: new Map() });
      expect(noXmlError(Buffer.from(body))).toBe("XML error: No error at line 1:1");
    },
  );
});
