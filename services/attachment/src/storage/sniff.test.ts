import { describe, expect, it } from "vitest";
import { FileTypeMismatchError, InvalidFileTypeError } from "./errors.ts";
import { assertTypeMatchesContent, detectType, parseDeclaredType } from "./sniff.ts";
import { PNG_BYTES, windowsExecutable } from "./testing.ts";

async function check(declared: string, content: Uint8Array): Promise<void> {
  assertTypeMatchesContent(parseDeclaredType(declared), await detectType(content));
}

describe("parseDeclaredType", () => {
  it("lower-cases and keeps parameters for storage, resolves aliases for comparison", () => {
    expect(parseDeclaredType(" Image/JPG ")).toEqual({ stored: "image/jpg", essence: "image/jpeg" });
    expect(parseDeclaredType("text/plain; charset=UTF-8")).toEqual({
      stored: "text/plain; charset=utf-8",
      essence: "text/plain",
    });
    expect(parseDeclaredType("")).toEqual({ stored: "", essence: "" });
  });

  it("refuses what is not a MIME type", () => {
    for (const bad of ["png", "image/", "/png", "ima ge/png", "imagé/png", `a/${"b".repeat(300)}`]) {
      expect(() => parseDeclaredType(bad), bad).toThrow(InvalidFileTypeError);
    }
  });
});

describe("declared type vs content", () => {
  it("rejects a Windows executable declared as a PNG", async () => {
    const error = await check("image/png", windowsExecutable()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FileTypeMismatchError);
    expect(error).toMatchObject({ declaredType: "image/png", detectedType: "application/x-msdownload" });
  });

  it("rejects content of another kind under a specific type", async () => {
    await expect(check("text/plain", PNG_BYTES)).rejects.toThrow(FileTypeMismatchError);
    await expect(check("image/jpeg", PNG_BYTES)).rejects.toThrow(FileTypeMismatchError);
    await expect(check("application/pdf", Buffer.from("PK\u0003\u0004rest", "latin1"))).rejects.toThrow(
      FileTypeMismatchError,
    );
  });

  it("accepts matching, aliased, generic and undetectable content", async () => {
    await check("image/png", PNG_BYTES);
    await check("image/x-png", PNG_BYTES);
    await check("application/octet-stream", windowsExecutable());
    await check("", windowsExecutable());
    await check("application/x-msdos-program", windowsExecutable());
    await check("image/png", Buffer.from("just some text that no signature matches"));
    await check("text/plain", Buffer.from("plain text, fine under any declared type"));
    await check("text/xml", Buffer.from("<?xml version='1.0'?><a/>"));
    await check("text/plain", Buffer.from("<?xml version='1.0'?><a/>"));
    await check("application/pdf", Buffer.from("%PDF-1.4\n"));
  });

  it("accepts container families either way round", async () => {
    const zip = Buffer.from("504b0304140000000000000000000000000000000000000000000000000000", "hex");
    await check("application/zip", zip);
    await check("application/vnd.openxmlformats-officedocument.wordprocessingml.document", zip);
    await check("application/x-zip-compressed", zip);
  });
});
