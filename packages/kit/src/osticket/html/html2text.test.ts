import { describe, expect, it } from "vitest";
import { mailHtmlToText } from "./html2text.ts";

// Expected texts are what osTicket 1.18.1's Format::html2text(Format::safe_html($html), 100, false) gives.
describe("mailHtmlToText (Mail_Parse::getBody with rich text off)", () => {
  it("breaks lines at <br> in its three spellings and any case, once after </div>, twice after </p>", () => {
    expect(
      mailHtmlToText(
        "<div>Line one<br>Line two<br/>Line three<br />Line four<BR>end</div><div>next div</div>   <div>third</div>",
      ),
    ).toBe("Line one\nLine two\nLine three\nLine four\nend\nnext div\nthird\n");
  });

  it("keeps no markup of lists, tables, headings, quotes, bold, links or images: their text runs together", () => {
    expect(
      mailHtmlToText(
        "<table><tr><td>A</td><td>B</td></tr><tr><td>C</td><td>D</td></tr></table><blockquote>quoted text</blockquote><h1>Title</h1><pre>  pre\n  text</pre>",
      ),
    ).toBe("ABCDquoted textTitle  pre\n  text");
    expect(mailHtmlToText("<ol><li>first</li><li>second <i>it</i> <u>un</u></li></ol><hr><p>end</p>")).toBe(
      "firstsecond it unend\n\n",
    );
    expect(mailHtmlToText('<img src="cid:abc" alt="pic"><p>x<span>y</span>z</p>')).toBe("xyz\n\n");
    expect(mailHtmlToText('<p>Hello <b>bold</b> <a href="https://x.example/">link</a></p>')).toBe(
      "Hello bold link\n\n",
    );
  });

  it("decodes the entities safe_html leaves; encoded markup was decoded and removed by it", () => {
    expect(
      mailHtmlToText(
        "<p>a &lt;tag&gt; &quot;quoted&quot; &#39;single&#39; &copy; &eacute; &#233; &#x41;</p>",
      ),
    ).toBe("a \"quoted\" 'single' © é é A\n\n");
  });

  it("keeps a no-break space (not a place to wrap) and drops head, title and style", () => {
    expect(
      mailHtmlToText(
        '<html><head><title>T</title><style>p{color:red}</style></head><body><p>Hello <b>bold</b> &amp; <a href="https://x.example/">link</a></p><p>Second&nbsp;para</p><ul><li>one</li><li>two</li></ul></body></html>',
      ),
    ).toBe("Hello bold & link\n\nSecond\u00a0para\n\nonetwo");
  });

  it("drops scripts and form controls but keeps a button's text", () => {
    expect(
      mailHtmlToText("<script>alert(1)</script><form><input value=x><button>Go</button></form><p>after</p>"),
    ).toBe("Goafter\n\n");
  });

  it("wraps at 100 bytes: at the last space that fits, long words cut, multi-byte characters counted as bytes", () => {
    expect(
      mailHtmlToText(
        "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.</p><p>https://example.com/a/very/long/url/that/keeps/going/and/going/and/going/without/any/spaces/at/all/until/it/passes/one/hundred/bytes</p>",
      ),
    ).toBe(
      "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore\net dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut\naliquip ex ea commodo consequat.\n\nhttps://example.com/a/very/long/url/that/keeps/going/and/going/and/going/without/any/spaces/at/all/u\nntil/it/passes/one/hundred/bytes\n\n",
    );
    expect(
      mailHtmlToText(
        "<p>Grüße aus Köln – ein längerer deutscher Satz mit Umlauten äöü und ß, der über die Zeilenbreite von hundert Bytes hinausgeht, damit umgebrochen wird.</p>",
      ),
    ).toBe(
      "Grüße aus Köln – ein längerer deutscher Satz mit Umlauten äöü und ß, der über die\nZeilenbreite von hundert Bytes hinausgeht, damit umgebrochen wird.\n\n",
    );
  });

  it("compacts the whitespace of text without markup; empty html and '0' stay as they are", () => {
    expect(mailHtmlToText("plain text without tags\nsecond line\r\nthird")).toBe(
      "plain text without tags second line third",
    );
    expect(mailHtmlToText("<p></p>")).toBe("");
    expect(mailHtmlToText("0")).toBe("0");
  });
});
