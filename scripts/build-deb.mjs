// Builds the host's Debian package, `npm run package` after `npm run build`:
// dist/airgrant-verifier_<version>_<arch>.deb from the verifier's single
// executable and packaging/deb/, with dpkg-deb and no network. What it holds
// and why is docs/install.md, "What the package holds".
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const PACKAGING = join(ROOT, "packaging/deb");
const VERIFIER = join(ROOT, "packages/verifier");
const NAME = "airgrant-verifier";
// The launcher and the runtime it starts, the file beside it (docs/verifier.md).
const LAUNCHER = join(VERIFIER, "dist", NAME);
const RUNTIME = join(VERIFIER, "dist", `${NAME}-runtime`);
const RUNTIME_LICENSE = `${RUNTIME}.LICENSE`;
// The documents an administrator reads on a host that has no copy of the repository.
const DOCS = ["install.md", "pam.md", "openssh.md", "verifier.md", "requests.md", "doctor.md", "errors.md"];

function fail(message) {
  process.stderr.write(`build-deb: ${message}\n`);
  process.exit(2);
}

function isElf(path) {
  const fd = openSync(path, "r");
  try {
    const magic = Buffer.alloc(4);
    return readSync(fd, magic, 0, 4, 0) === 4 && magic.equals(Buffer.from("\x7fELF", "latin1"));
  } finally {
    closeSync(fd);
  }
}

for (const file of [LAUNCHER, RUNTIME, RUNTIME_LICENSE]) {
  let mode;
  try {
    mode = statSync(file).mode;
  } catch {
    fail(`${relative(ROOT, file)} is missing: run 'npm run build' first`);
  }
  if (file !== RUNTIME_LICENSE && (!isElf(file) || (mode & 0o111) === 0)) {
    fail(`${relative(ROOT, file)} is not an executable ELF file: run 'npm run build' again`);
  }
}

const { version } = JSON.parse(readFileSync(join(VERIFIER, "package.json"), "utf8"));
const arch = execFileSync("dpkg", ["--print-architecture"], { encoding: "utf8" }).trim();
// The changelog's date: the commit built, so that two builds of one commit match.
const epoch = Number(execFileSync("git", ["-C", ROOT, "log", "-1", "--format=%ct"], { encoding: "utf8" }).trim());
const MAINTAINER = "airgrant maintainers <maintainers@airgrant.invalid>";

const stage = mkdtempSync(join(tmpdir(), "airgrant-deb-"));
const root = join(stage, "root");

/** Put `content` (or a copy of the file `from`) at `path` in the package, with `mode`. */
function put(path, mode, { content, from }) {
  const target = join(root, path);
  mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
  if (from !== undefined) copyFileSync(from, target);
  else writeFileSync(target, content);
  chmodSync(target, mode);
}

/** gzip -9n: no name, no time stamp, so the file is the same in every build. */
const gzip = (bytes) => gzipSync(bytes, { level: 9 });

/** A DEP-5 paragraph's continuation lines: each indented, an empty one a lone dot. */
const continuation = (text) =>
  text
    .trimEnd()
    .split("\n")
    .map((line) => (line.trim() === "" ? " ." : ` ${line}`))
    .join("\n");

const doc = `usr/share/doc/${NAME}`;
try {
  // Off PATH, so that nobody starts the runtime without the launcher's clean
  // environment; /usr/sbin has a link to the launcher, which finds the runtime
  // beside its own real path.
  put(`usr/lib/${NAME}/${NAME}`, 0o755, { from: LAUNCHER });
  put(`usr/lib/${NAME}/${NAME}-runtime`, 0o755, { from: RUNTIME });
  mkdirSync(join(root, "usr/sbin"), { mode: 0o755 });
  symlinkSync(`../lib/${NAME}/${NAME}`, join(root, "usr/sbin", NAME));
  put(`usr/share/man/man8/${NAME}.8.gz`, 0o644, {
    content: gzip(readFileSync(join(VERIFIER, "man", `${NAME}.8`))),
  });
  put("usr/share/pam-configs/airgrant", 0o644, { from: join(PACKAGING, "airgrant.pam-config") });
  put(`usr/share/${NAME}/sshd_config.d/airgrant.conf`, 0o644, {
    from: join(PACKAGING, "sshd_config.d/airgrant.conf"),
  });
  put(`usr/share/lintian/overrides/${NAME}`, 0o644, { from: join(PACKAGING, "lintian-overrides") });
  put(`${doc}/copyright`, 0o644, {
    content: `${readFileSync(join(PACKAGING, "copyright"), "utf8")}\nLicense: Node.js\n${continuation(readFileSync(RUNTIME_LICENSE, "utf8"))}\n`,
  });
  const date = new Date(epoch * 1000).toUTCString().replace("GMT", "+0000");
  put(`${doc}/changelog.gz`, 0o644, {
    content: gzip(
      `${NAME} (${version}) unstable; urgency=medium\n\n  * Built from the airgrant repository (scripts/build-deb.mjs).\n\n -- ${MAINTAINER}  ${date}\n`,
    ),
  });
  for (const name of DOCS) {
    put(`${doc}/${name}.gz`, 0o644, { content: gzip(readFileSync(join(ROOT, "docs", name))) });
  }

  const files = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        chmodSync(path, 0o755);
        walk(path);
      } else if (entry.isFile()) files.push(path);
    }
  };
  walk(root);
  files.sort();
  // Installed-Size in KiB, each file rounded up, as dpkg-gencontrol counts.
  const installedKiB = files.reduce((sum, path) => sum + Math.ceil(statSync(path).size / 1024), 0);
  const md5sums = files
    .map((path) => `${createHash("md5").update(readFileSync(path)).digest("hex")}  ${relative(root, path)}\n`)
    .join("");

  const control = join(root, "DEBIAN");
  mkdirSync(control, { mode: 0o755 });
  const fields = readFileSync(join(PACKAGING, "control"), "utf8")
    .replace("@VERSION@", version)
    .replace("@ARCH@", arch)
    .replace("@MAINTAINER@", MAINTAINER)
    .replace("@INSTALLED_SIZE@", String(installedKiB));
  writeFileSync(join(control, "control"), fields);
  writeFileSync(join(control, "md5sums"), md5sums);
  for (const script of ["postinst", "prerm", "postrm"]) {
    put(`DEBIAN/${script}`, 0o755, { from: join(PACKAGING, script) });
  }

  mkdirSync(join(ROOT, "dist"), { recursive: true });
  const out = join(ROOT, "dist", `${NAME}_${version}_${arch}.deb`);
  // xz at level 1: a third of the executable's size in seconds, where the
  // default level takes a minute for 10% less; every dpkg reads xz (zstd
  // needs dpkg 1.21.18, Debian 12).
  execFileSync("dpkg-deb", ["--root-owner-group", "-Zxz", "-z1", "--build", root, out], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  process.stdout.write(`${relative(process.cwd(), out) || out}: ${(statSync(out).size / 1e6).toFixed(1)} MB\n`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
