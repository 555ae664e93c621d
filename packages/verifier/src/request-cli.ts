import { randomBytes } from "node:crypto";
import {
  AirgrantError,
  auditData,
  formatRequestCode,
  isoSeconds,
  printableLine,
  requestPolicyOf,
  type TrustBundle,
  writeOut,
} from "@airgrant/core";
import { appendHostEntry } from "./host-log.js";
import { loadInstalledBundle } from "./host-state.js";
import { type PamItems, readPamEnvironment } from "./pam-environment.js";
import { type PendingRequest, pendingRequestFor } from "./request-store.js";
import { hostState } from "./state-paths.js";
import { judgingTime } from "./time-floor.js";

/**
 * `request` and `pam-request` (docs/requests.md, "Showing the code"): the
 * account's pending request on this host, made and logged
 * (`request-created`) when it has none, shown in two lines.
 */
export interface ShownRequest {
  request: PendingRequest;
  /** When it stops being redeemable, on the host's clock. */
  expires: number;
  bundle: TrustBundle;
}

export function showRequest(input: {
  stateDir: string;
  host: string;
  user: string;
  items?: PamItems;
  clock: () => Date;
  random?: (length: number) => Uint8Array;
}): ShownRequest {
  const state = hostState(input.stateDir);
  const bundle = loadInstalledBundle(state);
  const policy = requestPolicyOf(bundle);
  const time = judgingTime(state, input.clock);
  if (time.behind > bundle.clockSkew) {
    throw new AirgrantError(
      "clock-behind",
      `this host's clock is ${time.behind} s behind the latest time its state has seen (${isoSeconds(time.now)}): set the clock right`,
    );
  }
  const random = input.random ?? ((n: number) => new Uint8Array(randomBytes(n)));
  const host = input.host.toLowerCase();
  const request = pendingRequestFor(state.requestsDir, { user: input.user, host }, policy, time.now, random, (made) => {
    const data = {
      request: made.code.symbols,
      user: made.user,
      host: made.host,
      created: made.created,
      lifetime: policy.lifetime,
      ...input.items,
      ...(time.behind > 0 ? { clockBehind: time.behind } : {}),
    };
    appendHostEntry(state, "request-created", auditData("request-created", data), time.clock);
  });
  return { request, expires: request.created + policy.lifetime, bundle };
}

/** The two lines shown: the code with host and account in clear, and until when it holds. */
export function requestLines(shown: ShownRequest): [string, string] {
  const { request } = shown;
  const until = isoSeconds(shown.expires).slice(11, 16);
  return [
    `airgrant request ${formatRequestCode(request.code)} for ${request.user}@${request.host}`,
    `give it to the officer; the grant is redeemable until ${until} UTC on this host's clock`,
  ];
}

export function printRequest(shown: ShownRequest, json: boolean): number {
  if (json) {
    const { request } = shown;
    const out = {
      ok: true,
      code: "request-pending",
      request: formatRequestCode(request.code),
      user: request.user,
      host: request.host,
      created: request.created,
      expires: shown.expires,
      new: request.fresh,
    };
    writeOut(`${JSON.stringify(out)}\n`);
  } else
    writeOut(
      `${requestLines(shown)
        .map((l) => printableLine(l))
        .join("\n")}\n`,
    );
  return 0;
}

/** `pam-request`: for PAM_USER, its lines on stdout for pam_exec's `stdout` option to show. */
export function runPamRequest(stateDir: string, host: string, json: boolean): number {
  const pam = readPamEnvironment(process.env, "pam-request");
  const shown = showRequest({ stateDir, host, user: pam.user, items: pam.items, clock: () => new Date() });
  return printRequest(shown, json);
}
