/**
 * Upload and download throughput of a 10 MB and a 100 MB file through the gateway, and the attachment
 * service's peak RSS while it moves them (it must stay bounded, not grow with the file size).
 *
 *   npx node bench/attachment-transfer.ts [sizeMB ...]        (default: 10 100)
 *
 * Runs the real processes, each its own child as in production (node --import the telemetry preload):
 * identity (tokens, JWKS), attachment, and the gateway, on a scratch copy of the fresh osTicket install
 * (TEST_MYSQL_URL, default mysql://root@127.0.0.1:3306; dropped at the end) with max_file_size raised to
 * 256 MB. NATS must be up at NATS_URL (readiness).
 *
 * - upload: AttachmentService.UploadFileStream (gRPC client stream, 256 KiB messages) through the gateway's
 *   h2c Connect edge, which forwards it to the attachment service; then the same directly to the service.
 * - download: GET of a signed link (CreateDownloadLink) on the gateway's public HTTP/1.1 port; then
 *   DownloadFile (server stream) directly from the service. Bytes out are hashed against bytes in.
 * - memory: the attachment process's VmHWM from /proc/<pid>/status, reset before each transfer through
 *   /proc/<pid>/clear_refs ("5"), so each line shows the peak of that transfer alone.
 *
 * The gateway runs as GATEWAY_SERVICE_NAME=ticket: the identity service gives the gateway's own service
 * token no files:read scope yet, which DownloadFile needs (see gateway/src/downloads/route.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import http from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { databaseUrl, loadDump, serverConnection } from "@ostmesh/db/testing/scratch.ts";
import { freePort } from "@ostmesh/kit/testing/ports.ts";
import { AttachmentService, IdentityService } from "@ostmesh/proto";
import type { UploadFileStreamRequest } from "@ostmesh/proto/gen/osticket/attachment/v1/attachment_service_pb.js";

const MB = 1_000_000;
const PIECE = 256 * 1024;
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PRELOAD = "@ostmesh/kit/telemetry/preload.ts";

interface Child {
  name: string;
  process: ChildProcess;
  output: string[];
}

function start(name: string, entry: string, env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, ["--import", PRELOAD, entry], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const keep = (data: Buffer) => {
    output.push(data.toString());
    if (output.length > 200) output.shift();
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return { name, process: child, output };
}

async function waitFor(url: string, child: Child, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null)
      throw new Error(`${child.name} exited (${child.process.exitCode}):\n${child.output.join("")}`);
    const ok = await fetch(url).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) return;
    await sleep(200);
  }
  throw new Error(`${child.name} did not get ready at ${url}:\n${child.output.join("")}`);
}

/** kB → MiB of a /proc/<pid>/status field. */
async function procStatus(pid: number, field: "VmHWM" | "VmRSS"): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  return Number(match?.[1] ?? 0) / 1024;
}

/** CPU seconds (user + system) the process has used so far, from /proc/<pid>/stat (ticks of 1/100 s). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resets the process's peak RSS to its current RSS (Linux clear_refs 5). */
async function resetPeak(pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, "5");
}

/** Incompressible bytes generated piece by piece (the bench never holds a whole file). */
function* pieces(size: number): Generator<Buffer> {
  for (let sent = 0; sent < size; sent += PIECE) yield randomBytes(Math.min(PIECE, size - sent));
}

async function* uploadStream(
  name: string,
  size: number,
  hash: ReturnType<typeof createHash>,
): AsyncGenerator<UploadFileStreamRequest> {
  yield {
    $typeName: "osticket.attachment.v1.UploadFileStreamRequest",
    idempotencyKey: "",
    part: {
      case: "metadata",
      value: { $typeName: "osticket.attachment.v1.UploadMetadata", name, type: "", size: BigInt(size) },
    },
  };
  for (const piece of pieces(size)) {
    hash.update(piece);
    yield {
      $typeName: "osticket.attachment.v1.UploadFileStreamRequest",
      idempotencyKey: "",
      part: { case: "chunk", value: piece },
    };
  }
}

function httpDownload(url: string): Promise<{ status: number; hash: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        const hash = createHash("sha256");
        let bytes = 0;
        res.on("data", (part: Buffer) => {
          hash.update(part);
          bytes += part.byteLength;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, hash: hash.digest("hex"), bytes }));
        res.on("error", reject);
      })
      .on("error", reject);
  });
}

interface Measured<T> {
  result: T;
  seconds: number;
  /** Peak RSS of the service during the work (MiB). */
  peak: number;
  /** CPU seconds the service and the gateway spent meanwhile. */
  serviceCpu: number;
  gatewayCpu: number;
}

async function measured<T>(
  pids: { service: number; gateway: number },
  work: () => Promise<T>,
): Promise<Measured<T>> {
  await resetPeak(pids.service);
  const before = [await cpuSeconds(pids.service), await cpuSeconds(pids.gateway)];
  const started = performance.now();
  const result = await work();
  const seconds = (performance.now() - started) / 1000;
  return {
    result,
    seconds,
    peak: await procStatus(pids.service, "VmHWM"),
    serviceCpu: (await cpuSeconds(pids.service)) - (before[0] ?? 0),
    gatewayCpu: (await cpuSeconds(pids.gateway)) - (before[1] ?? 0),
  };
}

async function main(): Promise<void> {
  const sizes = (process.argv.slice(2).length ? process.argv.slice(2) : ["10", "100"]).map(
    (s) => Number(s) * MB,
  );
  const database = `ostmesh_bench_att_${randomBytes(3).toString("hex")}`;
  await loadDump(database);
  const dbUrl = databaseUrl(database);
  {
    const conn = await serverConnection();
    await conn.query(
      `UPDATE \`${database}\`.ost_config SET value = ? WHERE namespace = 'core' AND \`key\` = 'max_file_size'`,
      [String(256 * MB)],
    );
    await conn.end();
  }
  const ticketSecret = randomBytes(32).toString("base64url");
  const ports = {
    identity: await freePort(),
    identityAdmin: await freePort(),
    attachment: await freePort(),
    attachmentAdmin: await freePort(),
    gatewayHttp: await freePort(),
    gatewayH2c: await freePort(),
    gatewayAdmin: await freePort(),
  };
  const mesh: NodeJS.ProcessEnv = {
    DATABASE_URL: dbUrl,
    IDENTITY_PORT: String(ports.identity),
    IDENTITY_ADMIN_PORT: String(ports.identityAdmin),
    ATTACHMENT_PORT: String(ports.attachment),
    ATTACHMENT_ADMIN_PORT: String(ports.attachmentAdmin),
    GATEWAY_PORT: String(ports.gatewayHttp),
    GATEWAY_H2C_PORT: String(ports.gatewayH2c),
    GATEWAY_ADMIN_PORT: String(ports.gatewayAdmin),
    // Nothing listens there: the gateway and services only need the two below.
    TICKET_URL: "http://127.0.0.1:9",
    NOTIFICATION_URL: "http://127.0.0.1:9",
    OSTMESH_BIND_HOST: "127.0.0.1",
    OSTMESH_TRACE_RATIO: "0",
  };
  const children: Child[] = [];
  try {
    const identity = start("identity", "services/identity/src/main.ts", {
      ...mesh,
      IDENTITY_SERVICE_CLIENTS: `ticket=${ticketSecret}`,
      IDENTITY_KEY_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    });
    children.push(identity);
    await waitFor(`http://127.0.0.1:${ports.identityAdmin}/readyz`, identity);
    const attachment = start("attachment", "services/attachment/src/main.ts", {
      ...mesh,
      ATTACHMENT_LINK_SECRET: randomBytes(32).toString("base64url"),
    });
    children.push(attachment);
    await waitFor(`http://127.0.0.1:${ports.attachmentAdmin}/readyz`, attachment);
    const gateway = start("gateway", "gateway/src/main.ts", {
      ...mesh,
      GATEWAY_SERVICE_NAME: "ticket",
      GATEWAY_SERVICE_SECRET: ticketSecret,
      GATEWAY_RATE_LIMIT: "0",
    });
    children.push(gateway);
    await waitFor(`http://127.0.0.1:${ports.gatewayAdmin}/healthz`, gateway);
    const servicePid = attachment.process.pid ?? 0;
    const gatewayPid = gateway.process.pid ?? 0;

    const identityUrl = `http://127.0.0.1:${ports.identity}`;
    const token = await createClient(
      IdentityService,
      createGrpcTransport({ baseUrl: identityUrl }),
    ).issueServiceToken({ serviceName: "ticket", secret: ticketSecret });
    const headers = { authorization: `Bearer ${token.tokens?.accessToken ?? ""}` };
    const viaGateway = new Http2SessionManager(`http://127.0.0.1:${ports.gatewayH2c}`);
    const direct = new Http2SessionManager(`http://127.0.0.1:${ports.attachment}`);
    const gatewayClient = createClient(
      AttachmentService,
      createGrpcTransport({ baseUrl: `http://127.0.0.1:${ports.gatewayH2c}`, sessionManager: viaGateway }),
    );
    const serviceClient = createClient(
      AttachmentService,
      createGrpcTransport({ baseUrl: `http://127.0.0.1:${ports.attachment}`, sessionManager: direct }),
    );

    console.log(
      `attachment service RSS after start ${(await procStatus(servicePid, "VmRSS")).toFixed(1)} MiB; ` +
        `gateway ${(await procStatus(gatewayPid, "VmRSS")).toFixed(1)} MiB; messages of ${PIECE} bytes`,
    );
    const pids = { service: servicePid, gateway: gatewayPid };
    let seed = 1;
    let failed = false;
    for (const size of sizes) {
      const label = `${(size / MB).toFixed(0)} MB`;
      const figures = (what: string, route: "gateway" | "direct", m: Measured<unknown>) =>
        `${what} ${(size / MB / m.seconds).toFixed(1)} MB/s (${m.seconds.toFixed(2)} s; service peak RSS ` +
        `${m.peak.toFixed(1)} MiB, CPU ${m.serviceCpu.toFixed(2)} s = ${(size / MB / Math.max(m.serviceCpu, 0.01)).toFixed(0)} MB per CPU-second` +
        (route === "gateway" ? `; gateway CPU ${m.gatewayCpu.toFixed(2)} s` : "") +
        ")";
      for (const route of ["gateway", "direct"] as const) {
        const client = route === "gateway" ? gatewayClient : serviceClient;
        const inputHash = createHash("sha256");
        const upload = await measured(pids, () =>
          client.uploadFileStream(uploadStream(`bench-${seed++}.bin`, size, inputHash), { headers }),
        );
        const fileId = upload.result.file?.id ?? 0;
        const expected = inputHash.digest("hex");
        let download: Measured<{ hash: string; bytes: number; status: number }>;
        if (route === "gateway") {
          const link = await gatewayClient.createDownloadLink({ fileId, asAttachment: true }, { headers });
          download = await measured(pids, () =>
            httpDownload(`http://127.0.0.1:${ports.gatewayHttp}${link.urlPath}`),
          );
        } else {
          download = await measured(pids, async () => {
            const hash = createHash("sha256");
            let bytes = 0;
            for await (const res of serviceClient.downloadFile(
              { file: { case: "fileId", value: fileId } },
              { headers },
            )) {
              if (res.part.case === "chunk") {
                hash.update(res.part.value);
                bytes += res.part.value.byteLength;
              }
            }
            return { hash: hash.digest("hex"), bytes, status: 200 };
          });
        }
        const intact =
          download.result.status === 200 &&
          download.result.hash === expected &&
          download.result.bytes === size;
        if (!intact) failed = true;
        console.log(`${label} ${route === "gateway" ? "through the gateway" : "direct to the service"}:`);
        console.log(`  ${figures("upload  ", route, upload)}`);
        console.log(`  ${figures("download", route, download)}`);
        console.log(
          `  ${intact ? "bytes out == bytes in" : `BYTES DIFFER (HTTP ${download.result.status}, ${download.result.bytes} bytes)`}`,
        );
      }
    }
    console.log(
      `gateway peak RSS over the whole run ${(await procStatus(gatewayPid, "VmHWM")).toFixed(1)} MiB ` +
        "(not reset between transfers)",
    );
    viaGateway.abort();
    direct.abort();
    if (failed) process.exitCode = 1;
  } finally {
    for (const child of children.reverse()) {
      if (child.process.exitCode === null) {
        child.process.kill("SIGTERM");
        await Promise.race([new Promise((resolve) => child.process.once("exit", resolve)), sleep(10_000)]);
      }
    }
    const conn = await serverConnection();
    await conn.query(`DROP DATABASE IF EXISTS \`${database}\``);
    await conn.end();
  }
}

await main();
