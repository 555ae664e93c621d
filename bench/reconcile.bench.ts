// Reconciliation at scale: a signer log of 100,000 grant-issued
// entries and 100 host logs holding their uses, written in bulk in the real
// line format, then `airgrant-auditor reconcile` as a whole process, timed
// against the one-minute target and against `sha256sum` of the same files
// in the same run (the floor: reading and hashing every byte once).
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuditEntry, type AuditValue, encodeAuditEntry } from "@airgrant/core";
import { AUDITOR_CLI } from "@airgrant/testkit";
import { fmt } from "./bench-support.js";

const GRANTS = 100_000;
const HOSTS = 100;
/** One grant in this many is never used; one check in REFUSED_EVERY is a refusal. */
const NEVER_USED_EVERY = 20;
const REFUSED_EVERY = 10;
const TARGET_MS = 60_000;
const T0 = Date.parse("2026-10-01T00:00:00Z");
const GENESIS = "0".repeat(64);
const hex = (n: number) => randomBytes(n).toString("hex");

/** Appends lines to a file in big writes, chaining them as appendAuditEntry would. */
class BulkLog {
  readonly fd: number;
  chunks: Buffer[] = [];
  size = 0;
  seq = 0;
  prev = GENESIS;

  constructor(
    readonly path: string,
    time: number,
  ) {
    this.fd = openSync(path, "w", 0o600);
    this.append(time, "log-opened", { format: "airgrant-audit-log/1", logId: hex(16) });
  }

  append(time: number, type: string, data: Record<string, AuditValue>): AuditEntry {
    const { entry, line } = encodeAuditEntry(this.seq + 1, new Date(time).toISOString(), type, data, this.prev);
    this.seq = entry.seq;
    this.prev = entry.hash;
    this.chunks.push(line, Buffer.from("\n"));
    this.size += line.length + 1;
    if (this.size > 4 << 20) this.flush();
    return entry;
  }

  flush(): void {
    writeSync(this.fd, Buffer.concat(this.chunks));
    this.chunks = [];
    this.size = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

// Its own scratch directory, not bench/.work: another bench run finishing
// meanwhile clears bench/.work.
const dir = mkdtempSync(join(tmpdir(), "airgrant-bench-reconcile-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
let t = performance.now();
const issuerKeyId = hex(8);
const signer = new BulkLog(join(dir, "signer.log"), T0 - 60_000);
signer.append(T0 - 30_000, "issuer-initialised", { keyId: issuerKeyId, algorithm: "ecdsa-p256" });
const bundleId = hex(16);
signer.append(T0 - 20_000, "bundle-exported", { bundleId, clockSkew: 300, groups: [], revokedGrants: [hex(16)] });
const hosts = Array.from({ length: HOSTS }, (_, h) => {
  const log = new BulkLog(join(dir, `host-${h}.log`), T0 - 10_000);
  log.append(T0 - 5_000, "bundle-installed", { bundleId, issuers: [issuerKeyId], sha256: hex(32) });
  return log;
});
// Grants every 20 s (about 23 days of them), each used a minute after issue
// on its host; host entries stay in time order because grants are.
let uses = 0;
for (let i = 0; i < GRANTS; i++) {
  const issued = T0 + i * 20_000;
  const notBefore = Math.floor(issued / 1000);
  const anchor = { seq: signer.seq, head: signer.prev.slice(0, 16) };
  const host = `host-${i % HOSTS}.example`;
  const grant = {
    grantId: hex(16),
    user: `user${i % 997}`,
    target: host,
    notBefore,
    notAfter: notBefore + 3600,
    maxUses: 1,
    officer: `officer${i % 7}`,
  };
  signer.append(issued, "grant-issued", {
    ...grant,
    grantSha256: hex(32),
    issuerKeyId,
    otpCounter: [1, i],
    reason: "maintenance window",
    yubikeyId: "cccccccccccb",
  });
  if (i % NEVER_USED_EVERY === NEVER_USED_EVERY - 1) continue;
  const check = {
    anchor,
    grantId: grant.grantId,
    host,
    issuer: issuerKeyId,
    notAfter: grant.notAfter,
    notBefore,
    presented: hex(32),
    presentedBytes: 326,
    principal: grant.user,
    target: host,
    user: grant.user,
  };
  const log = hosts[i % HOSTS] as BulkLog;
  if (i % REFUSED_EVERY === 0)
    log.append(issued + 30_000, "grant-check", { ...check, verdict: "wrong-user", user: "eve" });
  log.append(issued + 60_000, "grant-check", { ...check, use: 1, verdict: "allowed" });
  uses++;
}
signer.close();
for (const log of hosts) log.close();
const files = [signer.path, ...hosts.map((l) => l.path)];
const bytes = files.reduce((n, f) => n + statSync(f).size, 0);
console.log(
  `wrote ${GRANTS.toLocaleString("en-US")} grants (${signer.seq.toLocaleString("en-US")} signer entries), ` +
    `${uses.toLocaleString("en-US")} uses in ${HOSTS} host logs, ${fmt(bytes / 2 ** 20, 1)} MiB, in ${fmt((performance.now() - t) / 1000, 1)} s`,
);

// Warm the page cache for both, then alternate: sha256sum, reconcile, sha256sum.
spawnSync("sha256sum", files, { stdio: "ignore" });
const cli = AUDITOR_CLI;
const hostArgs = hosts.flatMap((l) => ["--host", l.path]);
const shaTimes: number[] = [];
function sha256sum(): void {
  const s = performance.now();
  const r = spawnSync("sha256sum", files, { stdio: ["ignore", "ignore", "inherit"] });
  if (r.status !== 0) throw new Error("sha256sum failed");
  shaTimes.push(performance.now() - s);
}
sha256sum();
t = performance.now();
const out = join(dir, "reconcile.json");
const outFd = openSync(out, "w");
const r = spawnSync(
  "/usr/bin/time",
  ["-f", "%M", process.execPath, cli, "reconcile", "--signer", signer.path, ...hostArgs, "--json"],
  {
    stdio: ["ignore", outFd, "pipe"],
    encoding: "utf8",
  },
);
const reconcileMs = performance.now() - t;
closeSync(outFd);
sha256sum();
if (r.status !== 0) throw new Error(`reconcile exited ${r.status}: ${r.stderr.slice(0, 500)}`);
/** The members of `reconcile --json` this bench checks. */
interface ReconcileResult {
  grantsIssued: number;
  uses: number;
  neverUsed: unknown[];
  findingsTotal: number;
}
const result = JSON.parse(readFileSync(out, "utf8")) as ReconcileResult;
const peakKiB = Number(r.stderr.trim().split("\n").at(-1));
if (result.grantsIssued !== GRANTS || result.uses !== uses || result.findingsTotal !== 0) {
  throw new Error(
    `unexpected result: ${JSON.stringify({ ...result, neverUsed: result.neverUsed.length, hosts: undefined })}`,
  );
}
// The chain verification alone, for where the time goes.
t = performance.now();
const v = spawnSync(process.execPath, [cli, "verify", ...files], { stdio: "ignore" });
const verifyMs = performance.now() - t;
if (v.status !== 0) throw new Error(`verify exited ${v.status}`);
// The HTML report of the same logs: one more reconcile, and the page.
const html = join(dir, "report.html");
t = performance.now();
const rep = spawnSync(process.execPath, [cli, "report", "--signer", signer.path, ...hostArgs, "--out", html], {
  stdio: "ignore",
});
const reportMs = performance.now() - t;
if (rep.status !== 0) throw new Error(`report exited ${rep.status}`);
const shaMs = Math.min(...shaTimes);
console.log(
  `reconcile (whole process, ${files.length} logs): ${fmt(reconcileMs / 1000)} s, peak RSS ${fmt(peakKiB / 1024, 0)} MiB; ` +
    `${result.grantsIssued.toLocaleString("en-US")} grants, ${result.uses.toLocaleString("en-US")} uses, ${result.neverUsed.length.toLocaleString("en-US")} never used, ${result.findingsTotal} findings`,
);
console.log(
  `target: under ${TARGET_MS / 1000} s: ${reconcileMs < TARGET_MS ? "met" : "NOT met"} (${fmt(reconcileMs / TARGET_MS)} of it)`,
);
console.log(
  `sha256sum of the same files: ${fmt(shaMs / 1000)} s; ratio reconcile/sha256sum ${fmt(reconcileMs / shaMs, 1)}`,
);
console.log(`of which chain verification ('airgrant-auditor verify' of the same files): ${fmt(verifyMs / 1000)} s`);
console.log(`report of the same logs: ${fmt(reportMs / 1000)} s, ${fmt(statSync(html).size / 2 ** 20, 1)} MiB of HTML`);
