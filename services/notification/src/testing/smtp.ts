import type { AddressInfo } from "node:net";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";

/** One message as the in-process SMTP server received it. */
export interface ReceivedMail {
  /** RCPT TO addresses (envelope). */
  readonly rcptTo: string[];
  readonly mailFrom: string;
  readonly parsed: ParsedMail;
  readonly raw: string;
}

export interface TestSmtpServer {
  readonly url: string;
  readonly received: ReceivedMail[];
  /** The next `count` messages are refused with `code` (e.g. 451 temporary, 550 permanent) and `text`. */
  refuseNext(count: number, code: number, text?: string): void;
  close(): Promise<void>;
}

/** A real SMTP server (smtp-server) on 127.0.0.1, port chosen by the OS, keeping what arrives. */
export async function startSmtpServer(): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  let refusals = 0;
  let refusalCode = 451;
  let refusalText = "refused by the test server";
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        if (refusals > 0) {
          refusals--;
          const error: Error & { responseCode?: number } = new Error(refusalText);
          error.responseCode = refusalCode;
          callback(error);
          return;
        }
        const raw = Buffer.concat(chunks).toString("utf8");
        simpleParser(raw).then(
          (parsed) => {
            received.push({
              rcptTo: session.envelope.rcptTo.map((r) => r.address),
              mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
              parsed,
              raw,
            });
            callback();
          },
          (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
        );
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address: AddressInfo | string | null = server.server.address();
  if (!address || typeof address === "string") throw new Error("the SMTP server has no TCP address");
  return {
    url: `smtp://127.0.0.1:${address.port}`,
    received,
    refuseNext(count, code, text = "refused by the test server") {
      refusals = count;
      refusalCode = code;
      refusalText = text;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
