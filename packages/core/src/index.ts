export { AirgrantError, EXIT_STATUS, type ExitClass, exitClassOf, exitStatusOf } from "./airgrant-error.js";
export {
  createFileExclusive,
  ensurePrivateDirectory,
  fsyncDirectory,
  PRIVATE_DIR_MODE,
  PRIVATE_FILE_MODE,
  writeFileAtomic,
} from "./durable-file.js";
export { type FileLockOptions, withFileLock } from "./file-lock.js";
