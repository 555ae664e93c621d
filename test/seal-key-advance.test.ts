// The sealing key moves forward on an idle host. Entries sealed two days
// ago and none since: before, seal.key still held the key of their epoch,
// and with it root could delete an allowed use and re-seal the rest so that
// `airgrant-auditor verify --key` said intact. Now any verifier start (here
// `status`, which the packaged timer runs) moves the key to the current
// epoch without logging anything, and the same forgery with the key on disk
// is caught as bad-seal.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AuditEntry,
  type AuditValue,
  DEFAULT_SEAL_EPOCH_SECONDS,
  encodeAuditEntry,
  fromHex,
  sealEpochAt,
  sealMember,
} from "@airgrant/core";
import { AUDITOR_CLI as AUDITOR, makeBundleBytes, makeTestIssuer, VERIFIER_CLI as VERIFIER } from "@airgrant/testkit";
import { advanceSealKey, appendHostEntry, hostState, installBundle } from "@airgrant/verifier";
import { afterAll, describe, expect, it } from "vitest";

const work = mkdtempSync(join(tmpdir(), "airgrant-seal-idle-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const TWO_DAYS = 2 * 86_400;
const at = (seconds: number) => () => new Date(seconds * 1000);

function run(cli: string, args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

function sealKeyOnDisk(stateDir: string): { epoch: number; key: Uint8Array; start: number } {
  const o = JSON.parse(readFileSync(join(stateDir, "seal.key"), "utf8")) as {
    epoch: number;
    key: string;
    start: number;
  };
  return { epoch: o.epoch, key: fromHex(o.key, 32, "state-corrupt", "seal key"), start: o.start };
}

/**
 * What root with the log and the key on disk can do: delete entry `dropSeq`,
 * number and chain the rest again, and seal every sealed entry with that key.
 */
function deleteAndReseal(log: string, key: Uint8Array, epoch: number, dropSeq: number): void {
  const entries = readFileSync(log, "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line) as AuditEntry)
    .filter((e) => e.seq !== dropSeq);
  let prev = "";
  const lines = entries.map((e, i) => {
    const { seal, ...data } = e.data as Record<string, AuditValue>;
    const seq = i + 1;
    const link = i === 0 ? e.prev : prev;
    const unsealed = encodeAuditEntry(seq, e.time, e.type, data, link).entry;
    const resealed = seal === undefined ? data : { ...data, ...sealMember(key, epoch, unsealed) };
    const { entry, line } = encodeAuditEntry(seq, e.time, e.type, resealed, link);
    prev = entry.hash;
    return line.toString();
  });
  writeFileSync(log, `${lines.join("\n")}\n`);
}

describe("the sealing key on an idle host", () => {
  const issuer = makeTestIssuer();
  const t0 = Math.floor(Date.now() / 1000) - TWO_DAYS;
  const state = hostState(join(work, "state"));
  const receipt = join(work, "receipt.json");
  installBundle(state, makeBundleBytes([issuer]), at(t0), { receiptPath: receipt });
  for (const [i, verdict] of ["allowed", "grant-expired", "bad-checksum"].entries()) {
    appendHostEntry(state, "grant-check", { verdict, user: "alice", host: "db1.example" }, at(t0 + 10 + i));
  }
  const allowedSeq = 3;

  it("with the key of two days ago, a deleted use re-sealed would pass: the attack the key's moving stops", () => {
    const before = sealKeyOnDisk(state.dir);
    expect(before.epoch).toBe(0);
    const copy = join(work, "copy.log");
    copyFileSync(state.auditLogPath, copy);
    expect(readFileSync(copy, "utf8")).toContain('"verdict":"allowed"');
    deleteAndReseal(copy, before.key, before.epoch, allowedSeq);
    expect(readFileSync(copy, "utf8")).not.toContain('"verdict":"allowed"');
    const verified = run(AUDITOR, ["verify", copy, "--key", receipt]);
    expect(verified.status, verified.output).toBe(0);
    expect(verified.output).toMatch(/intact, 4 entries, sealed/);
  });

  it("a verifier start two days later moves the key to the current epoch and logs nothing", () => {
    const lines = readFileSync(state.auditLogPath, "utf8");
    const from = sealEpochAt(t0, DEFAULT_SEAL_EPOCH_SECONDS, Math.floor(Date.now() / 1000));
    const status = run(VERIFIER, ["status", "--state", state.dir]);
    const to = sealEpochAt(t0, DEFAULT_SEAL_EPOCH_SECONDS, Math.floor(Date.now() / 1000));
    expect(status.status, status.output).toBe(0);
    const after = sealKeyOnDisk(state.dir);
    expect(after.epoch).toBeGreaterThanOrEqual(from);
    expect(after.epoch).toBeLessThanOrEqual(to);
    expect(after.epoch).toBeGreaterThanOrEqual(191);
    expect(readFileSync(state.auditLogPath, "utf8")).toBe(lines);
  });

  it("the same deletion re-sealed with the key now on disk is caught by verify --key", () => {
    const now = sealKeyOnDisk(state.dir);
    deleteAndReseal(state.auditLogPath, now.key, now.epoch, allowedSeq);
    const verified = run(AUDITOR, ["verify", state.auditLogPath, "--key", receipt]);
    expect(verified.status).toBe(1);
    expect(verified.output).toMatch(/bad-seal/);
    expect(verified.output).toMatch(/entry 2 is dated in epoch 0 but sealed in epoch \d+/);
  });

  it("advanceSealKey never moves the key back, and does nothing before sealing has started", () => {
    const epoch = sealKeyOnDisk(state.dir).epoch;
    expect(advanceSealKey(state, at(t0))).toBe(epoch);
    expect(sealKeyOnDisk(state.dir).epoch).toBe(epoch);
    expect(advanceSealKey(state, at(t0 + TWO_DAYS + 3600))).toBe(epoch + 4);
    const fresh = join(work, "fresh");
    mkdirSync(fresh, { mode: 0o700 });
    expect(advanceSealKey(hostState(fresh), at(t0))).toBeUndefined();
  });
});
