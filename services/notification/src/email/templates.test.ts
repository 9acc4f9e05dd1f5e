import { describe, expect, it } from "vitest";
import { entryHtml, renderTemplate } from "./templates.ts";

describe("osTicket template variables", () => {
  const template = {
    codeName: "ticket.alert",
    subject: "Re: %{ticket.subject} [#%{ticket.number}]\n",
    body:
      '<p>Hi %{recipient.name},</p><a href="%%7Bticket.staff_link%7D">#%{ticket.number}</a> %{ticket.dept}' +
      " %{message} %{no.such.variable}",
  };

  it("escapes text values in the body, keeps HTML values, fills the href form and drops unknown variables", () => {
    const out = renderTemplate(template, {
      "ticket.subject": "Printer <broken> & smoking",
      "ticket.number": "123456",
      "recipient.name": 'Jane "JJ" Agent',
      "ticket.staff_link": "http://helpdesk/scp/tickets.php?id=5&x=1",
      "ticket.dept.name": "Support",
      message: { html: "<p>It <b>smokes</b></p>" },
    });
    expect(out.subject).toBe("Re: Printer <broken> & smoking [#123456]");
    expect(out.html).toBe(
      "<p>Hi Jane &quot;JJ&quot; Agent,</p>" +
        '<a href="http://helpdesk/scp/tickets.php?id=5&amp;x=1">#123456</a> Support <p>It <b>smokes</b></p> ',
    );
  });

  it("shows stored text bodies as TextThreadEntryBody::display('email') does, never escaping twice", () => {
    expect(entryHtml("a &lt; b\nsecond line", "text")).toEqual({
      html: '<div style="white-space:pre-wrap">a &lt; b\nsecond line</div>',
    });
    expect(entryHtml('1 < 2 & "x" &amp; &#39;y&#x27;', "text")).toEqual({
      html: '<div style="white-space:pre-wrap">1 &lt; 2 &amp; &quot;x&quot; &amp; &#39;y&#x27;</div>',
    });
    expect(entryHtml("<p>kept</p>", "html")).toEqual({ html: "<p>kept</p>" });
  });
});
