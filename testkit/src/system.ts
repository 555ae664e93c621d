// @airgrant/testkit/system: the parts of a real host an end-to-end test
// uses and changes (accounts, PAM services, sshd, the ssh client), and the
// documented lines it configures them with.
export {
  type DocumentedLinesOptions,
  type DocumentedOpenSshOptions,
  documentedInstallLines,
  documentedOpenSshConfig,
  documentedOpenSshSessionLine,
  documentedPamLines,
  documentedRequestPamLines,
  documentedRevokedKeysLine,
  documentedSessionLines,
  documentedSshdConfig,
  type HostPaths,
} from "./documented-lines.js";
export {
  type SshPromptLogin,
  type SshResult,
  spawnSshWithPromptAnswer,
  sshWithPromptAnswer,
} from "./ssh-keyboard-interactive.js";
export {
  makeSshdRunDir,
  SSH_KEY_LOGIN_OPTIONS,
  type SshdOptions,
  type SshdServer,
  startSshd,
} from "./sshd-server.js";
export {
  cleanUp,
  cleanUpSuite,
  createThrowawayUser,
  type Removable,
  removeStaleFixtures,
  requireCommand,
  requireRoot,
  writePamService,
} from "./system-fixtures.js";
