export { describeLogVerdict, type LogVerdict, verifyLogs } from "./verify-logs.js";
