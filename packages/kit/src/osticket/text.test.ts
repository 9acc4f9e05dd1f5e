import { describe, expect, it } from "vitest";
import { phpWordwrap, simpleHtml2Text } from "./text.ts";

describe("phpWordwrap (wordwrap with cut)", () => {
  it("gives PHP's results", () => {
    expect(phpWordwrap("The quick brown fox", 10)).toBe("The quick\nbrown fox");
    expect(phpWordwrap("A very long woooooooooooord.", 8)).toBe("A very\nlong\nwooooooo\nooooord.");
    expect(phpWordwrap("aa  bb\ncc dd", 2)).toBe("aa\n b\nb\ncc\ndd");
    expect(phpWordwrap("abc\n", 2)).toBe("ab\nc\n");
    expect(phpWordwrap("ééé", 2)).toBe("é\né\né");
  });
});

describe("simpleHtml2Text (Format::html2text's simple conversion)", () => {
  it("breaks lines after <br>, </div> and </p>, strips tags, decodes the special characters only, wraps", () => {
    expect(simpleHtml2Text("<p>One &amp; two</p>  <div>x<br/>y</div>\n<b>&nbsp;&lt;b&gt;</b>", 90)).toBe(
      "One & two\n\nx\ny\n&nbsp;<b>",
    );
    expect(simpleHtml2Text("<p>aaa bbb ccc</p>", 7)).toBe("aaa bbb\nccc\n\n");
  });
});
