import { createSocket, type Socket } from "node:dgram";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dnsMailDomainVerifier, emailHost, isEmailAddress } from "./email.ts";

describe("e-mail address syntax (Validator::is_email)", () => {
  it("accepts one address with a mailbox, not at localhost", () => {
    expect(emailHost("trace.user@example.net")).toBe("example.net");
    expect(emailHost("Angry.User@Example.com")).toBe("Example.com");
    expect(isEmailAddress('"quoted name"@example.com')).toBe(true);
    expect(isEmailAddress("user@host")).toBe(true);
    for (const bad of [
      "not-an-email",
      "user@localhost",
      "@example.com",
      "a@b@c.com",
      "a@example.com, b@example.com",
      "",
    ]) {
      expect(isEmailAddress(bad)).toBe(false);
    }
  });
});

/** A tiny DNS server: MX for mx.test, only an A record for a-only.test, silence for slow.test, NXDOMAIN else. */
function startDns(): Promise<{ socket: Socket; port: number }> {
  const socket = createSocket("udp4");
  socket.on("message", (msg, peer) => {
    let offset = 12;
    const labels: string[] = [];
    for (let len = msg.readUInt8(offset); len > 0; len = msg.readUInt8(offset)) {
      labels.push(msg.subarray(offset + 1, offset + 1 + len).toString("ascii"));
      offset += len + 1;
    }
    const question = msg.subarray(12, offset + 5);
    const qtype = msg.readUInt16BE(offset + 1);
    const name = labels.join(".").toLowerCase();
    if (name === "slow.test") return;
    const answers: Buffer[] = [];
    const known = name === "mx.test" || name === "a-only.test";
    if (name === "mx.test" && qtype === 15) {
      const exchange = Buffer.from([
        4,
        ...Buffer.from("mail"),
        2,
        ...Buffer.from("mx"),
        4,
        ...Buffer.from("test"),
        0,
      ]);
      const rdata = Buffer.concat([Buffer.from([0, 10]), exchange]);
      answers.push(
        Buffer.concat([Buffer.from([0xc0, 0x0c, 0, 15, 0, 1, 0, 0, 0, 60, 0, rdata.length]), rdata]),
      );
    }
    if (name === "a-only.test" && qtype === 1) {
      answers.push(Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]));
    }
    const header = Buffer.alloc(12);
    header.writeUInt16BE(msg.readUInt16BE(0), 0);
    header.writeUInt16BE(known ? 0x8180 : 0x8183, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    socket.send(Buffer.concat([header, question, ...answers]), peer.port, peer.address);
  });
  return new Promise((resolve) =>
    socket.bind(0, "127.0.0.1", () => resolve({ socket, port: socket.address().port })),
  );
}

describe("verify_email_addrs through DNS (MX, else A/AAAA)", () => {
  let dns: { socket: Socket; port: number };
  beforeAll(async () => {
    dns = await startDns();
  });
  afterAll(() => {
    dns?.socket.close();
  });

  it("accepts MX or A domains and refuses unknown or unanswered ones within the timeout", async () => {
    const verify = dnsMailDomainVerifier({ servers: [`127.0.0.1:${dns.port}`], timeoutMs: 300 });
    expect(await verify("mx.test")).toBe(true);
    expect(await verify("a-only.test")).toBe(true);
    expect(await verify("nothing.test")).toBe(false);
    const started = Date.now();
    expect(await verify("slow.test")).toBe(false);
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
