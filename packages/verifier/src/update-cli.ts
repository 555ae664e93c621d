import { readFileSync } from "node:fs";
import { AirgrantError, isoSeconds, writeOut } from "@airgrant/core";
import { applyTrustUpdate } from "./host-state.js";
import { hostState } from "./state-paths.js";

/**
 * `airgrant-verifier update FILE...` (docs/verifier.md, "Signed updates");
 * cli.ts parses the arguments and maps thrown errors to exit codes.
 */

interface Output {
  json: boolean;
}

/** A bundle file named on the command line, or `file-unreadable`. */
export function readBundleFile(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new AirgrantError("file-unreadable", `cannot read ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
}

export function runUpdate(files: string[], stateDir: string, out: Output): number {
  const result = applyTrustUpdate(hostState(stateDir), files.map(readBundleFile), () => new Date());
  const trust = result.bundle.signedTrust;
  const expired = Date.now() / 1000 >= trust.expires;
  if (out.json) {
    const json = {
      ok: true,
      code: "trust-updated",
      bundleId: result.bundle.bundleId,
      trustVersion: trust.trustVersion,
      replacedTrustVersion: result.replacedTrustVersion,
      chain: result.chain,
      passedOver: result.passedOver,
      expires: trust.expires,
      expired,
    };
    writeOut(`${JSON.stringify(json)}\n`);
    return 0;
  }
  const through = result.chain.length > 1 ? ` through ${result.chain.join(", ")}` : "";
  writeOut(
    `trust version ${result.replacedTrustVersion} -> ${trust.trustVersion}${through}: installed trust bundle ${result.bundle.bundleId} in ${stateDir}\n`,
  );
  if (expired) {
    writeOut(
      `warning: this bundle expired at ${isoSeconds(trust.expires)}${trust.onExpiry === "refuse" ? "; it refuses every grant until a newer one is applied" : ""}\n`,
    );
  }
  return 0;
}
