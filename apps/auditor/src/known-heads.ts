import { AirgrantError, type AuditChainCode, type AuditChainHead, type AuditEntry } from "@airgrant/core";
import { readInputFile } from "./read-input-file.js";

/** The head of one log as an earlier audit saw it. */
export interface KnownHead extends AuditChainHead {
  logId: string;
  /** The path that audit read the log from, for messages. */
  path: string;
}

/**
 * The heads an earlier audit saw (`--since FILE`): the `--json` output of an
 * earlier `verify` or `reconcile`, by log id. A log cut short or rewritten
 * since then no longer holds that head (docs/audit-log.md, 7c).
 */
export interface KnownHeads {
  /** The file they were read from, for messages. */
  file: string;
  byLogId: ReadonlyMap<string, KnownHead>;
}

const LOG_ID = /^[0-9a-f]{32}$/;
const HASH = /^[0-9a-f]{64}$/;

function malformed(file: string, why: string): AirgrantError {
  return new AirgrantError(
    "bad-input",
    `${file} is not the --json output of an earlier airgrant-auditor verify or reconcile: ${why}`,
  );
}

/**
 * Reads the heads from an earlier audit's `--json` output. Every log in it
 * that has an id and a head counts (a broken log's head is its last verified
 * entry); of one log listed twice, the furthest head. Throws
 * `file-unreadable`, or `bad-input` for anything else than such an output.
 */
export function readKnownHeads(file: string): KnownHeads {
  const text = readInputFile(file).toString("utf8");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformed(file, "not JSON");
  }
  const logs = (parsed as { logs?: unknown } | null)?.logs;
  if (!Array.isArray(logs)) throw malformed(file, "no logs array");
  const byLogId = new Map<string, KnownHead>();
  logs.forEach((log: unknown, i) => {
    const { logId, head, path } = (log ?? {}) as { logId?: unknown; head?: unknown; path?: unknown };
    if (logId === undefined && head === undefined) return;
    const { seq, hash } = (head ?? {}) as { seq?: unknown; hash?: unknown };
    if (typeof logId !== "string" || !LOG_ID.test(logId))
      throw malformed(file, `logs[${i}].logId is not 32 hex digits`);
    if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 1) {
      throw malformed(file, `logs[${i}].head.seq is not a positive integer`);
    }
    if (typeof hash !== "string" || !HASH.test(hash))
      throw malformed(file, `logs[${i}].head.hash is not 64 hex digits`);
    const earlier = byLogId.get(logId);
    if (earlier !== undefined && earlier.seq >= seq) return;
    byLogId.set(logId, { logId, seq, hash, path: typeof path === "string" ? path : `logs[${i}]` });
  });
  return { file, byLogId };
}

/** The heads of logs the earlier audit saw that are not among `logIds`: logs not given this time. */
export function headsNotGiven(known: KnownHeads, logIds: ReadonlySet<string | undefined>): KnownHead[] {
  return [...known.byLogId.values()].filter((h) => !logIds.has(h.logId));
}

/** The note on a log the earlier audit saw that was not given. */
export function notGivenNote(head: KnownHead): string {
  return `the earlier audit saw log ${head.logId} (${head.path}) up to entry ${head.seq}; it was not given this time, so not checked against it`;
}

/** One log's check against the head an earlier audit saw in it, if it saw this log. */
export class KnownHeadCheck {
  #head: KnownHead | undefined;
  /** The earlier audit's output, for messages. */
  readonly file: string;

  constructor(private readonly known: KnownHeads) {
    this.file = known.file;
  }

  /** The head checked on this log, once its first entry named it. */
  get head(): KnownHead | undefined {
    return this.#head;
  }

  /** For a check that starts mid-log (one half of a large log): the log's id, else read from entry 1. */
  startIn(logId: string): void {
    this.#head = this.known.byLogId.get(logId);
  }

  onEntry(entry: AuditEntry): { code: AuditChainCode; message: string } | undefined {
    if (entry.seq === 1) this.startIn(entry.data.logId as string);
    const head = this.#head;
    if (head === undefined || entry.seq !== head.seq || entry.hash === head.hash) return undefined;
    return {
      code: "rewritten",
      message: `entry ${head.seq} is not the one the audit in ${this.file} saw there (hash ${entry.hash.slice(0, 16)}…, was ${head.hash.slice(0, 16)}…): the log was rewritten at or before it since`,
    };
  }

  onEnd(last: AuditChainHead): { code: AuditChainCode; message: string } | undefined {
    return this.#head === undefined ? undefined : truncation({ seq: this.#head.seq, file: this.file }, last);
  }
}

/** `truncated` when a log ends before the entry `seen.seq` that the audit in `seen.file` saw. */
export function truncation(
  seen: { seq: number; file: string },
  last: AuditChainHead,
): { code: AuditChainCode; message: string } | undefined {
  if (last.seq >= seen.seq) return undefined;
  return {
    code: "truncated",
    message: `the log ends at entry ${last.seq}, but the audit in ${seen.file} saw it reach entry ${seen.seq}: entries were cut off since`,
  };
}
