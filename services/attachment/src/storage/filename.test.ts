import { describe, expect, it } from "vitest";
import { fileExtension, MAX_FILE_NAME_LENGTH, sanitizeFileName } from "./filename.ts";

describe("sanitizeFileName", () => {
  it("keeps ordinary names", () => {
    expect(sanitizeFileName("report 2024 (final).pdf")).toBe("report 2024 (final).pdf");
    expect(sanitizeFileName("Überweisung ☃.txt")).toBe("Überweisung ☃.txt");
  });

  it("strips path parts of either separator", () => {
    expect(sanitizeFileName("../../etc/passwd")).toBe("passwd");
    expect(sanitizeFileName("C:\\Users\\me\\secret.docx")).toBe("secret.docx");
    expect(sanitizeFileName("dir/")).toBe("file");
  });

  it("removes control, bidi-override and non-BMP characters", () => {
    expect(sanitizeFileName("a\u0000b\u0007c.txt")).toBe("abc.txt");
    expect(sanitizeFileName("line\r\nbreak.txt")).toBe("line break.txt");
    expect(sanitizeFileName("invoice\u202egpj.exe")).toBe("invoicegpj.exe");
    expect(sanitizeFileName("rocket 🚀 launch.png")).toBe("rocket launch.png");
  });

  it("drops trailing dots and spaces and never returns an empty name", () => {
    expect(sanitizeFileName("name.txt. . ")).toBe("name.txt");
    expect(sanitizeFileName("")).toBe("file");
    expect(sanitizeFileName("..")).toBe("file");
    expect(sanitizeFileName("\u0001\u0002", "png")).toBe("file.png");
    expect(sanitizeFileName("🚀", "p/n.g")).toBe("file.png");
  });

  it("caps the length at 255 characters, keeping the extension", () => {
    const long = `${"a".repeat(400)}.pdf`;
    const capped = sanitizeFileName(long);
    expect(capped).toHaveLength(MAX_FILE_NAME_LENGTH);
    expect(capped.endsWith(".pdf")).toBe(true);
    const noExt = sanitizeFileName("b".repeat(300));
    expect(noExt).toBe("b".repeat(255));
    const hugeExt = sanitizeFileName(`x.${"e".repeat(300)}`);
    expect(hugeExt).toHaveLength(255);
  });
});

describe("fileExtension", () => {
  it("takes the extension the way PHP's pathinfo does", () => {
    expect(fileExtension("a.tar.GZ")).toBe("gz");
    expect(fileExtension(".htaccess")).toBe("htaccess");
    expect(fileExtension("README")).toBe("");
    expect(fileExtension("name.")).toBe("");
    expect(fileExtension("dir.d/file")).toBe("");
  });
});
