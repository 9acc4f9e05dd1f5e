import { describe, expect, it } from "vitest";
import {
  bodySearchable,
  cleanBody,
  cleanBodyContent,
  cleanTextAnswer,
  cleanTitle,
  htmlChars,
  htmlSearchable,
  sanitizeRichText,
  searchable,
  stripEmoticons,
  stripTags,
} from "./format.ts";

describe("emoji (Format::strip_emoticons, FACTS §0)", () => {
  it("removes emoji but keeps the surrounding spaces and 3-byte symbols", () => {
    expect(stripEmoticons("Emoji 🚀 subject")).toBe("Emoji  subject");
    expect(stripEmoticons("Hi 😀 there ☃ 💩 end")).toBe("Hi  there ☃  end");
    expect(stripEmoticons("other astral 🫠 char")).toBe("other astral  char");
    expect(stripEmoticons("© and ®")).toBe(" and ");
  });
});

describe("text bodies (TextThreadEntryBody, FACTS §6.1)", () => {
  it("escapes < > & \" without double-encoding and keeps '", () => {
    expect(cleanBody("a < b & c", "text")).toBe("a &lt; b &amp; c");
    expect(cleanBody("input &amp; stays", "text")).toBe("input &amp; stays");
    expect(cleanBody(`say "hi" it's`, "text")).toBe("say &quot;hi&quot; it's");
  });
  it("collapses runs of empty lines and balances tags", () => {
    expect(cleanBody("one\n\n\n\n\ntwo\n", "text")).toBe("one\n\ntwo");
    expect(cleanBody("<div>unclosed", "text")).toBe("&lt;div&gt;unclosed&lt;/div&gt;");
  });
  it("stores '-' for an empty body", () => {
    expect(cleanBody("   \n ", "text")).toBe("-");
    expect(cleanBody("<br/>", "html")).toBe("-");
  });
  it("stores '-' for the body \"0\", which PHP takes for empty", () => {
    expect(cleanBody("0", "text")).toBe("-");
    expect(cleanBody("0", "html")).toBe("-");
    expect(cleanBody("00", "text")).toBe("00");
  });
});

describe("html bodies (Format::safe_html)", () => {
  it("keeps allowed markup and drops scripts, event handlers and ids", () => {
    expect(cleanBody("<p>Hello <b>trace</b></p>", "html")).toBe("<p>Hello <b>trace</b></p>");
    expect(cleanBody('<p onclick="x()" id="a">hi</p><script>alert(1)</script>', "html")).toBe("<p>hi</p>");
    expect(cleanBody("<p>Héllo <b>w</b><script>x()</script></p>", "html")).toBe("<p>Héllo <b>w</b></p>");
  });
  it("drops forms and buttons but keeps their text, denies bad URL schemes", () => {
    expect(sanitizeRichText('<form action="/x"><input name="a"><button>Go</button></form>')).toBe("Go");
    expect(sanitizeRichText('<a href="javascript:alert(1)">x</a>')).toBe(
      '<a href="denied:javascript:alert(1)">x</a>',
    );
    expect(sanitizeRichText('<a href="https://example.com/">x</a>')).toBe(
      '<a href="https://example.com/">x</a>',
    );
  });
  it("compacts ASCII whitespace only: a no-break space stays, and an element holding one is not empty", () => {
    expect(sanitizeRichText("<p>a&nbsp;b \n\t c</p>")).toBe("<p>a\u00a0b c</p>");
    expect(sanitizeRichText("<p>Outlook</p><p>&nbsp;</p><p>x</p>")).toBe(
      "<p>Outlook</p><p>\u00a0</p><p>x</p>",
    );
    expect(sanitizeRichText("a\u00a0b  c")).toBe("a\u00a0b c");
    expect(cleanBody("<p>a&nbsp;b</p><p>&nbsp;</p>", "html")).toBe("<p>a\u00a0b</p><p>\u00a0</p>");
  });
  it("decodes entity-encoded markup before cleaning", () => {
    expect(sanitizeRichText("&lt;script&gt;bad()&lt;/script&gt;<p>ok</p>")).toBe("<p>ok</p>");
  });
  it("unwraps Gmail's dir=ltr div and Outlook's _MailEndCompose bookmark as safe_html's rules do", () => {
    expect(sanitizeRichText('<div dir="ltr">Hello<br>there</div><div class="gmail_quote">quoted</div>')).toBe(
      "Hello<br />there <div>quoted</div>",
    );
    // Only the first wrapper and the first </div> after it go, even where that is not its own end.
    expect(sanitizeRichText('<DIV DIR="ltr"><div>a</div><div>b</div></DIV>')).toBe(
      "<div>a <div>b</div></div>",
    );
    expect(sanitizeRichText('<div dir=3D"ltr">qp</div>rest')).toBe("qp rest");
    expect(sanitizeRichText('<p>x</p><span style="mso-bookmark:_MailEndCompose">tail <b>b</b></span>')).toBe(
      "<p>x</p>tail <b>b</b>",
    );
    expect(sanitizeRichText('<a name="_MailEndCompose">keep</a><p>z</p>')).toBe("keep<p>z</p>");
  });

  it("turns images on osTicket's own file.php URLs back into cid: references (Format::localizeInlineImages)", () => {
    expect(
      cleanBodyContent(
        '<p>a<img src="https://help.example.com/file.php?key=b1c2d3e4f5&expires=1795000000&signature=abcdef0123" alt="shot" /></p>',
        "html",
      ),
    ).toBe('<p>a<img src="cid:b1c2d3e4f5" alt="shot" /></p>');
    expect(
      cleanBodyContent(
        '<p><img src="/scp/file.php?id=7&amp;key=zzz111&expires=1&signature=s" style="width:10px"></p>',
        "html",
      ),
    ).toBe('<p><img src="cid:zzz111" style="width:10px" alt="image" /></p>');
    // Only an src written first is recognised; other images keep their URL.
    expect(cleanBodyContent('<p><img alt="first" src="/file.php?key=q&expires=1"></p>', "html")).toBe(
      '<p><img alt="first" src="/file.php?key=q&amp;expires=1" /></p>',
    );
    expect(cleanBodyContent('<p><img src="https://cdn.example.org/x.png"></p>', "html")).toBe(
      '<p><img src="https://cdn.example.org/x.png" alt="image" /></p>',
    );
  });

  it("keeps Mso classes only and cleans styles", () => {
    expect(
      sanitizeRichText('<p class="MsoNormal other" style="color: red; -webkit-x: 1; mso-y: 2">t</p>'),
    ).toBe('<p class="MsoNormal" style="color:red">t</p>');
  });
  it("keeps iframes only from whitelisted domains", () => {
    const policy = { iframeDomains: ["youtube.com"] };
    expect(
      sanitizeRichText('<iframe src="https://www.youtube.com/embed/x" onload="y()"></iframe>', policy),
    ).toBe('<iframe src="https://www.youtube.com/embed/x"></iframe>');
    // htmLawed drops the start tag whose src fails the whitelist; its end tag stays.
    expect(sanitizeRichText('<p>a</p><iframe src="https://evil.example/x"></iframe>', policy)).toBe(
      "<p>a</p></iframe>",
    );
  });
  it("drops external images that are not gif/png/jpg", () => {
    expect(cleanBody('<p><img src="https://x.example/a.svg"> t</p>', "html")).toBe("<p> t</p>");
    expect(cleanBody('<p><img src="https://x.example/a.png" /></p>', "html")).toBe(
      '<p><img src="https://x.example/a.png" alt="image" /></p>',
    );
  });
});

describe("titles and form answers", () => {
  it("sanitises titles and keeps entities encoded", () => {
    expect(cleanTitle("Hello <b>World</b> & co")).toBe("Hello World &amp; co");
    expect(cleanTitle("Emoji 🚀 subject")).toBe("Emoji  subject");
    expect(Array.from(cleanTitle("x".repeat(300)))).toHaveLength(255);
  });
  it("strips tags and decodes entities in text answers", () => {
    expect(cleanTextAnswer("Hello <b>World</b> &amp; co")).toBe("Hello World & co");
    expect(cleanTextAnswer("a < b")).toBe("a < b");
    expect(stripTags("x<y")).toBe("x");
    expect(stripTags("a <!-- c --> b")).toBe("a  b");
  });
  it("escapes like htmlspecialchars without double encoding", () => {
    expect(htmlChars('<a href="x">&amp; &copy; &bogus; &</a>')).toBe(
      "&lt;a href=&quot;x&quot;&gt;&amp; &copy; &amp;bogus; &amp;&lt;/a&gt;",
    );
  });
});

describe("search text (ost__search)", () => {
  it("turns html into words and collapses whitespace", () => {
    expect(htmlSearchable("<p>Html <b>version</b>.</p>")).toBe("Html version .");
    expect(htmlSearchable("<p>a&nbsp;&amp;&nbsp;b</p>")).toBe("a & b");
    expect(searchable("  Emoji  subject \n")).toBe("Emoji subject");
    expect(bodySearchable("a &lt; b", "text")).toBe("a &lt; b");
  });
});

describe("plain-text fast paths agree with the full sanitiser", () => {
  it("gives the same result with and without markup-free input", () => {
    for (const text of ["Trace ticket", "  a \n b\t", "Emoji  Name", "quotes \" and ' stay", "x"]) {
      expect(sanitizeRichText(text)).toBe(sanitizeRichText(`${text}<b></b>`));
      // An empty element vanishes; the blanks before it would stay (libxml keeps them inside the wrapper).
      expect(cleanBody(text, "text")).toBe(cleanBody(`${text.trimEnd()}<i></i>`, "text"));
    }
  });
});
