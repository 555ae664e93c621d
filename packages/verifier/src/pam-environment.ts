import { AirgrantError, type AuditRecord, ipAddressFamily, printableLine } from "@airgrant/core";

/**
 * What pam_exec tells a login command (pam_exec(8)): the PAM type, the
 * user, the items, and the PAM environment (sshd's SSH_AUTH_INFO_0). Read
 * here once for `pam` and `ssh-session`. Everything in it comes from the
 * application, and some of it from the client or the user: items are cut and
 * made printable before they reach a log or a message.
 */

/** The items that go into the audit entry, and their audit keys. */
const PAM_ITEMS = [
  ["PAM_SERVICE", "pamService"],
  ["PAM_RHOST", "pamRhost"],
  ["PAM_TTY", "pamTty"],
] as const;

/** Items are kept to this many code points. */
export const PAM_ITEM_MAX_LENGTH = 128;

/** A value from outside as it may go into a log or a message: printable, at most `max` code points. */
export function printableItem(value: string, max = PAM_ITEM_MAX_LENGTH): { value: string; truncated: boolean } {
  // By code points, so that a cut never leaves half a surrogate pair (which the log refuses).
  const points = Array.from(printableLine(value));
  return { value: points.slice(0, max).join(""), truncated: points.length > max };
}

/** The PAM items as the host log records them (docs/verifier.md, "Audit entries"). */
export type PamItems = Pick<AuditRecord<"grant-check">, "pamService" | "pamRhost" | "pamTty" | "pamTruncated">;

export interface PamEnvironment {
  /** PAM_TYPE: one of those the entry point expects. */
  type: string;
  /** PAM_USER as given: the rules refuse one that is not an account name. */
  user: string;
  /** The items, printable, by audit key; `pamTruncated: "true"` when one was cut. */
  items: PamItems;
  /** PAM_RHOST when it is an IP address: sshd gives the client's address unless UseDNS is on. */
  remoteAddress?: string;
  /** sshd's SSH_AUTH_INFO_0, for `ssh-session`. */
  authInfo?: string;
}

function misconfigured(message: string): AirgrantError {
  return new AirgrantError("pam-misconfigured", message);
}

/** Where each entry point's pam_exec line belongs (docs/pam.md, docs/openssh.md). */
const EXPECTED_TYPE = {
  pam: { types: ["auth"], where: "in the auth section only (docs/pam.md)" },
  "pam-request": { types: ["auth"], where: "in the auth section only, before the pam line (docs/pam.md)" },
  "ssh-session": {
    types: ["open_session"],
    where: "in sshd's session section, with type=open_session (docs/openssh.md)",
  },
  session: {
    types: ["open_session", "close_session"],
    where: "in the session section, after pam_loginuid.so, without type= (docs/pam.md)",
  },
} as const satisfies Record<string, { types: readonly string[]; where: string }>;

/**
 * Read pam_exec's environment for an entry point, refusing a line that is
 * in the wrong place (`pam-misconfigured`): the host then fails closed.
 */
export function readPamEnvironment(env: NodeJS.ProcessEnv, entry: keyof typeof EXPECTED_TYPE): PamEnvironment {
  const expected = EXPECTED_TYPE[entry];
  const type = env.PAM_TYPE;
  if (type === undefined || type === "") {
    throw misconfigured(`PAM_TYPE is not set: 'airgrant-verifier ${entry}' is run by pam_exec.so`);
  }
  if (!(expected.types as readonly string[]).includes(type)) {
    throw misconfigured(
      `called for PAM type '${printableItem(type, 40).value}': the pam_exec line belongs ${expected.where}`,
    );
  }
  const user = env.PAM_USER ?? "";
  if (user === "") throw misconfigured("PAM_USER is not set: the application asked for no user");
  const items: PamItems = {};
  for (const [name, key] of PAM_ITEMS) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    const item = printableItem(raw);
    items[key] = item.value;
    if (item.truncated) items.pamTruncated = "true";
  }
  const rhost = env.PAM_RHOST;
  const result: PamEnvironment = { type, user, items };
  if (rhost !== undefined && ipAddressFamily(rhost) !== 0) result.remoteAddress = rhost;
  if (entry === "ssh-session") {
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
    result.authInfo = authInfo;
  }
  return result;
}

/** Who asked, for the stderr line that pam_exec's log= file or the journal keeps. */
export function describeCaller(pam: PamEnvironment): string {
  const parts = [`user ${printableItem(pam.user).value}`];
  if (pam.items.pamService !== undefined) parts.push(`service ${pam.items.pamService}`);
  if (pam.items.pamRhost !== undefined) parts.push(`rhost ${pam.items.pamRhost}`);
  if (pam.items.pamTty !== undefined) parts.push(`tty ${pam.items.pamTty}`);
  return `(${parts.join(", ")})`;
}
