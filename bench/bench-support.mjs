// Shared by the benchmarks: timing, statistics and the test issuer, so that
// every benchmark prints its figures the same way.
import { spawnSync } from "node:child_process";
import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  encodeGrant,
  encodeGrantBody,
  encodeGrantText,
  encodeTrustBundle,
  keyIdOf,
  toHex,
  toLowS,
} from "../packages/core/dist/index.js";

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

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

export function fmt(n, digits = 2) {
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
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

/**
 * Time `ours(i)` against `floor(i)` for i from `first` to `n`: both warmed up
 * on `warm` calls, the disk settled, then interleaved in small blocks so that
 * drift in the machine's I/O hits both alike. Returns the totals over the
 * measured calls and each block's floor/ours ratio.
 */
export function interleave(ours, floor, n, { first = 0, warm = 100, block = 20 } = {}) {
  for (let i = first; i < warm; i++) ours(i);
  for (let i = first; i < warm; i++) floor(i);
  spawnSync("sync");
  let oursMs = 0;
  let floorMs = 0;
  const blockRatios = [];
  for (let start = warm; start + block <= n; start += block) {
    let t = performance.now();
    for (let i = start; i < start + block; i++) ours(i);
    const o = performance.now() - t;
    t = performance.now();
    for (let i = start; i < start + block; i++) floor(i);
    const f = performance.now() - t;
    oursMs += o;
    floorMs += f;
    blockRatios.push(f / o);
  }
  return { oursMs, floorMs, blockRatios, measured: Math.floor((n - warm) / block) * block };
}
