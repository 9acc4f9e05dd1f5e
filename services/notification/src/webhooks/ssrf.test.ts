import http from "node:http";
import { describe, expect, it } from "vitest";
import { postWebhook } from "./http.ts";
import { addressAllowed, parseTarget, resolveTarget, TargetRefusedError, targetPolicy } from "./ssrf.ts";

describe("webhook target policy (SSRF)", () => {
  const strict = targetPolicy();

  it("refuses loopback, private, link-local, CGNAT, multicast, reserved and mapped forms of them", () => {
    for (const address of [
      "127.0.0.1",
      "10.1.2.3",
      "172.16.5.4",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "224.0.0.1",
      "255.255.255.255",
      "::1",
      "::",
      "fe80::1",
      "fd00::1",
      "ff02::1",
      "::ffff:127.0.0.1",
      "::ffff:10.0.0.1",
    ])
      expect(addressAllowed(address, strict), address).toBe(false);
    for (const address of ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
      expect(addressAllowed(address, strict), address).toBe(true);
  });

  it("allows exactly the ranges the operator configures", () => {
    const dev = targetPolicy({ allowedCidrs: ["127.0.0.1/32", "10.20.0.0/16"] });
    expect(addressAllowed("127.0.0.1", dev)).toBe(true);
    expect(addressAllowed("127.0.0.2", dev)).toBe(false);
    expect(addressAllowed("10.20.3.4", dev)).toBe(true);
    expect(addressAllowed("10.21.3.4", dev)).toBe(false);
    expect(() => targetPolicy({ allowedCidrs: ["not-an-ip/8"] })).toThrow(/not an IP range/);
    expect(() => targetPolicy({ allowedCidrs: ["10.0.0.0/33"] })).toThrow(/bad prefix/);
  });

  it("checks URL shape: https, http only to loopback, no credentials, no fragment, literal addresses checked", () => {
    expect(parseTarget("https://hooks.example.com/x", strict).host).toBe("hooks.example.com");
    for (const url of [
      "ftp://hooks.example.com/",
      "http://hooks.example.com/",
      "https://user:pw@hooks.example.com/",
      "https://hooks.example.com/#frag",
      "https://10.0.0.1/",
      "https://[::1]/",
      "not a url",
    ])
      expect(() => parseTarget(url, strict), url).toThrow(TargetRefusedError);
    expect(
      parseTarget("http://127.0.0.1:8080/x", targetPolicy({ allowedCidrs: ["127.0.0.1/32"] })).host,
    ).toBe("127.0.0.1");
  });

  it("refuses a name when any address it resolves to is not public (DNS rebinding gets nothing)", async () => {
    const dns = (map: Record<string, string[]>) => async (host: string) =>
      (map[host] ?? []).map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
    const resolve = dns({
      "good.example": ["93.184.216.34"],
      "mixed.example": ["93.184.216.34", "10.0.0.7"],
      "metadata.example": ["169.254.169.254"],
    });
    await expect(resolveTarget("good.example", strict, resolve)).resolves.toEqual({
      address: "93.184.216.34",
      family: 4,
    });
    await expect(resolveTarget("mixed.example", strict, resolve)).rejects.toThrow(/10\.0\.0\.7/);
    await expect(resolveTarget("metadata.example", strict, resolve)).rejects.toThrow(TargetRefusedError);
    await expect(resolveTarget("nothing.example", strict, resolve)).rejects.toThrow(/no addresses/);
  });

  it("connects to the address it checked, not to a second resolution, and never reaches a refused one", async () => {
    const hits: string[] = [];
    const server = http.createServer((req, res) => {
      hits.push(String(req.headers.host));
      res.end("ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const port = (server.address() as { port: number }).port;
    try {
      const allowLoopback = targetPolicy({ allowedCidrs: ["127.0.0.1/32"], allowHttp: true });
      // The name resolves to the allowed loopback receiver: the request goes there, with the name as Host.
      const ok = await postWebhook(
        `http://hooks.test:${port}/x`,
        "{}",
        {},
        {
          policy: allowLoopback,
          resolve: async () => [{ address: "127.0.0.1", family: 4 }],
        },
      );
      expect(ok).toMatchObject({ status: 200, error: "", refused: false });
      expect(hits).toEqual([`hooks.test:${port}`]);
      // Without the allowance the same name is refused before any connection.
      const refused = await postWebhook(
        `http://hooks.test:${port}/x`,
        "{}",
        {},
        {
          policy: targetPolicy({ allowHttp: true }),
          resolve: async () => [{ address: "127.0.0.1", family: 4 }],
        },
      );
      expect(refused).toMatchObject({ status: 0, refused: true });
      expect(refused.error).toMatch(/not a public address/);
      expect(hits).toHaveLength(1);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
