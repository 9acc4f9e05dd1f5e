import { randomInt } from "node:crypto";
import net from "node:net";

/**
 * Ports for servers a test (or a benchmark) starts in another process, which therefore cannot listen on
 * port 0 itself and report back. A port the kernel hands out for port 0 comes from the ephemeral range,
 * where every outgoing connection (to MySQL, NATS, the mesh) also takes its local port: between closing the
 * probe and the child's listen, one of those can take it. So ports come from below that range
 * (21000–31999 on Linux, whose ephemeral range starts at 32768), in a block of 1000 per vitest pool slot so
 * test files running side by side never pick the same one, and each is checked to be free right before it
 * is handed out.
 */
const FIRST_PORT = 21_000;
const BLOCK_SIZE = 1_000;
const BLOCKS = 11;

let offset = randomInt(BLOCK_SIZE);

function blockStart(): number {
  const pool = Number(process.env.VITEST_POOL_ID);
  const slot = Number.isInteger(pool) && pool > 0 ? pool - 1 : process.pid;
  return FIRST_PORT + (slot % BLOCKS) * BLOCK_SIZE;
}

/** Whether a server could listen on `port` now (with the SO_REUSEADDR Node's servers set). */
export function canListen(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", () => resolve(false));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/** A port nothing listens on, from this process's block; successive calls give different ports. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const start = blockStart();
  for (let tried = 0; tried < BLOCK_SIZE; tried++) {
    const port = start + (offset % BLOCK_SIZE);
    offset += 1;
    if (await canListen(port, host)) return port;
  }
  throw new Error(`no free port between ${start} and ${start + BLOCK_SIZE - 1}`);
}
