import { AirgrantError, type AuditValue } from "@airgrant/core";
import { appendHostEntry } from "./host-log.js";
import { hostState, loadInstalledBundle } from "./host-state.js";
import { sanitizePamItem } from "./pam-check.js";
import { sshAuditData } from "./ssh-audit-data.js";
import {
  checkSshCertificate,
  decodeCertificateVerdict,
  findCertificateIssuer,
  type SshVerdict,
} from "./ssh-certificate-check.js";
import { decodeCertificateBase64 } from "./ssh-principals.js";
import { consumeGrantUse, flushUseStore, pruneExpiredUsesOccasionally, replayedMessage } from "./use-store.js";

const PAM_ITEMS = [
  ["PAM_SERVICE", "pamService"],
  ["PAM_RHOST", "pamRhost"],
  ["PAM_TTY", "pamTty"],
] as const;

const CERT_SUFFIX = "-cert-v01@openssh.com";

export interface SshSessionInput {
  /** From `--state` only: the PAM environment is not to be trusted for it. */
  stateDir: string;
  host: string;
  /** pam_exec's environment: the PAM environment (SSH_AUTH_INFO_0) plus PAM_TYPE, PAM_USER and the items. */
  env: NodeJS.ProcessEnv;
  clock: () => Date;
}

export interface SshSessionResult {
  /** True when the login may go on: a use was taken, or it was not a login with an airgrant certificate. */
  allowed: boolean;
  code: string;
  message: string;
  user: string;
  /** The verdict of each airgrant certificate the login used (normally one); empty when none. */
  checks: Array<{ verdict: SshVerdict; auditSeq: number; use?: number }>;
  context: Record<string, string>;
}

function misconfigured(message: string): AirgrantError {
  return new AirgrantError("pam-misconfigured", message);
}

/**
 * The certificates in sshd's SSH_AUTH_INFO_0: one line per authentication
 * method that succeeded, `publickey <key type> <base64 key>` for a key
 * (OpenSSH auth2-pubkey.c, auth2_record_info; exposed by auth-pam.c's
 * expose_authinfo before pam_open_session).
 */
export function certificatesInAuthInfo(authInfo: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const line of authInfo.split("\n")) {
    const [method, type, base64] = line.split(" ");
    if (method !== "publickey" || type === undefined || !type.endsWith(CERT_SUFFIX) || base64 === undefined) continue;
    const blob = decodeCertificateBase64(base64);
    if (blob !== undefined) out.push(blob);
  }
  return out;
}

/**
 * The `ssh-session` entry point's work, run by `pam_exec.so type=open_session`
 * in sshd's session stack: find the airgrant certificate the login used,
 * check it again and take one of its grant's uses in the one-time store
 * (the same store as grants typed at a prompt). Exactly one of several
 * connections racing with one certificate gets the use; the others' sessions
 * fail to open and sshd runs nothing for them. A login by anything else (a
 * plain key, a certificate of another CA, a PAM grant) is not ours to judge
 * here: allowed, not logged.
 */
export function runSshSession(input: SshSessionInput): SshSessionResult {
  const { env } = input;
  const type = env.PAM_TYPE;
  if (type !== "open_session") {
    throw misconfigured(
      `called for PAM type '${type ?? "(unset)"}': the pam_exec line belongs in sshd's session section, with type=open_session (docs/openssh.md)`,
    );
  }
  const user = env.PAM_USER ?? "";
  if (user === "") throw misconfigured("PAM_USER is not set");
  const authInfo = env.SSH_AUTH_INFO_0;
  if (authInfo === undefined || authInfo.trim() === "") {
    // sshd fills it before every pam_open_session of a login that
    // authenticated; empty means the line runs where it is not yet set (the
    // account section) or a module before it changed it (pam_env with
    // user_readenv): refuse rather than let a certificate in uncounted.
    throw misconfigured(
      "SSH_AUTH_INFO_0 is empty: the line must be first in sshd's session section, with UsePAM yes (docs/openssh.md)",
    );
  }
  const context: Record<string, string> = {};
  for (const [name, key] of PAM_ITEMS) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    const item = sanitizePamItem(raw);
    context[key] = item.value;
    if (item.truncated) context.pamTruncated = "true";
  }

  const state = hostState(input.stateDir);
  const bundle = loadInstalledBundle(state);
  const ours = certificatesInAuthInfo(authInfo).filter((blob) => {
    const decoded = decodeCertificateVerdict(blob);
    return "certificate" in decoded && findCertificateIssuer(decoded.certificate, bundle) !== undefined;
  });
  if (ours.length === 0) {
    return {
      allowed: true,
      code: "not-airgrant",
      message: "not a login with an airgrant certificate",
      user,
      checks: [],
      context,
    };
  }
  const now = Math.floor(input.clock().getTime() / 1000);
  const host = input.host.toLowerCase();
  const checks: SshSessionResult["checks"] = [];
  for (const blob of ours) {
    let verdict = checkSshCertificate({ blob, bundle, user, host, now });
    let use: number | undefined;
    if (verdict.allowed) {
      const { grantId, maxUses, validBefore = now } = verdict.facts;
      const taken = consumeGrantUse(
        state.usedDir,
        grantId,
        maxUses,
        { expires: validBefore + bundle.clockSkew, usedAt: now },
        { flush: false },
      );
      if (taken.consumed) use = taken.use;
      else {
        verdict = {
          allowed: false,
          code: "grant-replayed",
          message: replayedMessage(grantId, maxUses),
          facts: verdict.facts,
        };
      }
    }
    const data: Record<string, AuditValue> = { ...sshAuditData(verdict, blob, user, host), via: "ssh-certificate" };
    if (use !== undefined) data.use = use;
    Object.assign(data, context);
    const entry = appendHostEntry(state, "grant-check", data, input.clock);
    if (use !== undefined) {
      // As in checkGrant: the use is durable only after the entry recording it.
      flushUseStore(state.usedDir);
      pruneExpiredUsesOccasionally(state.usedDir, now, bundle.maxLifetime + bundle.clockSkew);
    }
    checks.push(use === undefined ? { verdict, auditSeq: entry.seq } : { verdict, auditSeq: entry.seq, use });
    if (!verdict.allowed) {
      return { allowed: false, code: verdict.code, message: verdict.message, user, checks, context };
    }
  }
  const last = checks.at(-1)?.verdict as SshVerdict;
  return { allowed: true, code: "allowed", message: last.message, user, checks, context };
}
