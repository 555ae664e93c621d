// Shared by the benchmarks: the figures' report, scratch directories and the
// test issuer, with @airgrant/testkit's timing, so that every benchmark prints
// its figures the same way.
import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fmt } from "@airgrant/testkit";
import {
  encodeGrant,
  encodeGrantBody,
  encodeGrantText,
  encodeTrustBundle,
  keyIdOf,
  toHex,
  toLowS,
} from "../packages/core/dist/index.js";

export { alternate, fmt, median } from "@airgrant/testkit";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * A fresh scratch directory under bench/.work. Nothing is deleted here:
 * removing thousands of files makes the disk busy for the next
 * measurement; bench/run.mjs clears bench/.work once every bench is done.
 */
export function workDir(name) {
  const dir = join(ROOT, "bench", ".work", `${name}-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** `--json` on a bench's command line (bench/run.mjs passes it on): print figures as JSON lines. */
export const JSON_OUTPUT = process.argv.includes("--json");

/**
 * Print one figure: what a person waits for, against its baseline measured
 * in the same run, and the ratio with its target (`<= 1.5`). Text by
 * default; one JSON object per line with --json, which bench/run.mjs
 * collects into one document.
 */
export function report({ bench, what, oursMs, baseline, baselineMs, target, ...extra }) {
  const ratio = oursMs / baselineMs;
  if (JSON_OUTPUT) {
    const round = (n) => Number(n.toFixed(3));
    console.log(
      JSON.stringify({
        bench,
        what,
        oursMs: round(oursMs),
        baseline,
        baselineMs: round(baselineMs),
        ratio: round(ratio),
        target,
        ...extra,
      }),
    );
    return ratio;
  }
  console.log(`${what}: ${fmt(oursMs, 1)} ms; ${baseline}: ${fmt(baselineMs, 1)} ms`);
  const notes = Object.entries(extra).map(([k, v]) => `${k} ${v}`);
  console.log(`  ratio ${fmt(ratio)} (target ${target})${notes.length > 0 ? `; ${notes.join(", ")}` : ""}`);
  return ratio;
}

/** A software issuer standing in for the token: the benchmarks measure the host side. */
export function benchIssuer() {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const spki = new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
  return { privateKey, publicKey, spki, keyId: keyIdOf(spki) };
}

export function benchBundle(issuer, now) {
  return encodeTrustBundle({
    bundleId: toHex(randomBytes(16)),
    created: now - 60,
    issuers: [
      {
        keyId: toHex(issuer.keyId),
        algorithm: "ecdsa-p256-sha256",
        publicKey: issuer.spki,
        notBefore: now - 86_400,
        notAfter: now + 86_400,
        targets: ["*"],
      },
    ],
    groups: {},
    maxLifetime: 28_800,
    clockSkew: 300,
    requiredSignatures: 1,
    revokedGrants: [],
  });
}

export function benchGrant(issuer, now) {
  const body = encodeGrantBody({
    grantId: new Uint8Array(randomBytes(16)),
    issuerKeyId: issuer.keyId,
    notBefore: now - 60,
    notAfter: now + 3600,
    maxUses: 1,
    principal: "alice",
    target: { kind: "host", name: "bench.example" },
    anchor: { seq: 1, headPrefix: new Uint8Array(8) },
    reason: "benchmark",
  });
  const signature = toLowS(new Uint8Array(sign("sha256", body, { key: issuer.privateKey, dsaEncoding: "ieee-p1363" })));
  return {
    body,
    signature,
    text: encodeGrantText(encodeGrant(body, [{ keyId: issuer.keyId, algorithm: "ecdsa-p256-sha256", signature }])),
  };
}
