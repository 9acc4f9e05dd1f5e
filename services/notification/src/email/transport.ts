import { createTransport } from "nodemailer";
import type { MailTransport } from "./outbox.ts";

/**
 * nodemailer over SMTP to `url` (smtp://user:pass@host:587, smtps://host:465; query options such as
 * ?pool=true pass through). Connection and greeting timeouts are short: a dead server fails the attempt,
 * which the sender retries later, instead of holding a worker.
 */
export function smtpTransport(url: string): MailTransport {
  const mail = createTransport({
    url,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  const target = new URL(url);
  return {
    // nodemailer's defaults when the URL names no port.
    server: {
      address: target.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: Number(target.port) || (target.protocol === "smtps:" ? 465 : 587),
    },
    async sendMail(message) {
      const info = await mail.sendMail(message);
      return { response: info.response };
    },
    close: () => mail.close(),
  };
}
