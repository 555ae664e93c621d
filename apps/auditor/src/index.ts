export { type EvidenceInputs, evidenceSplitCheck, LogEvidence } from "./log-evidence.js";
export { describeLogVerdict, type LogVerdict, verifyLogs } from "./verify-logs.js";
