// Packs a role command as one npm tarball that installs with no registry:
// `node scripts/pack-role.mjs signer|auditor [DIR]`, after `npm run build`,
// writes DIR/airgrant-<role>-<version>.tgz (DIR defaults to dist/). Its
// dependencies are inside it (bundleDependencies), so `npm install --global
// --offline ./airgrant-signer-0.1.0.tgz` needs nothing else (README,
// "Installing the signer and the auditor").
//
// The signer ships its one-file bundle (core, yubikey-otp, pngjs and qr are
// in it) and its two native addons prebuilt, as `npm ci` compiled them on
// this machine: the installing machine needs no compiler and no Node
// headers, but must match this one's platform and, for fs-ext (built with
// nan, not Node-API), its Node major version. The auditor ships tsc's
// modules (it verifies a large log in worker threads that load its modules
// by URL, which one bundle file would break) with @airgrant/core, pngjs and
// qr, each as `npm pack` packs it.
import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * What each role's tarball holds besides its package.json: its own files
 * (`entry` is what its bin loads), the JavaScript packages it loads (with
 * their dependencies), and the native addons it loads, prebuilt.
 */
const ROLES = {
  signer: {
    dir: "apps/signer",
    entry: "dist/airgrant-signer.cjs",
    files: () => ["bin/airgrant-signer.js", "dist/airgrant-signer.cjs"],
    packages: [],
    addons: ["pkcs11js", "fs-ext"],
  },
  auditor: {
    dir: "apps/auditor",
    entry: "dist/cli.js",
    files: () => [
      "bin/airgrant-auditor.js",
      ...readdirSync(join(ROOT, "apps/auditor/dist"))
        .filter((f) => f.endsWith(".js"))
        .map((f) => `dist/${f}`),
    ],
    packages: ["@airgrant/core"],
    addons: [],
  },
};

const [roleName, outArg] = process.argv.slice(2);
const role = ROLES[roleName];
if (role === undefined) {
  process.stderr.write("usage: node scripts/pack-role.mjs signer|auditor [DIR]\n");
  process.exit(2);
}

/** What stops a pack: one line, exit 3, the stage removed. */
class PackFailure extends Error {}

try {
  process.stdout.write(`${packRole(role, resolve(outArg ?? join(ROOT, "dist")))}\n`);
} catch (err) {
  if (!(err instanceof PackFailure)) throw err;
  process.stderr.write(`error: ${err.message}\n`);
  process.exitCode = 3;
}

/** Writes the role's tarball into `outDir`; returns its path. */
function packRole(role, outDir) {
  const appDir = join(ROOT, role.dir);
  const app = readJson(join(appDir, "package.json"));
  if (!existsSync(join(appDir, role.entry))) {
    throw new PackFailure(`${role.dir}/${role.entry} is missing: run 'npm run build' first`);
  }
  const stage = mkdtempSync(join(tmpdir(), "airgrant-pack-role-"));
  try {
    for (const file of role.files()) copyInto(join(appDir, file), join(stage, file));
    const bundled = new Map();
    for (const name of role.addons) bundled.set(name, stagePrebuiltAddon(packageDir(name, appDir), stage));
    const pending = role.packages.map((name) => ({ name, from: appDir }));
    while (pending.length > 0) {
      const { name, from } = pending.shift();
      if (bundled.has(name)) continue;
      const dir = packageDir(name, from);
      const manifest = stagePackedPackage(name, dir, stage);
      bundled.set(name, manifest.version);
      for (const dependency of Object.keys(manifest.dependencies ?? {})) pending.push({ name: dependency, from: dir });
    }
    const names = [...bundled.keys()].sort();
    const { engines } = readJson(join(ROOT, "package.json"));
    const nodeMajor = Number(process.versions.node.split(".")[0]);
    const manifest = {
      name: app.name,
      version: app.version,
      description: app.description,
      license: app.license,
      type: app.type,
      bin: app.bin,
      ...(role.addons.length === 0
        ? { engines }
        : { engines: { node: `${engines.node} <${nodeMajor + 1}` }, os: [process.platform], cpu: [process.arch] }),
      dependencies: Object.fromEntries(names.map((name) => [name, bundled.get(name)])),
      bundleDependencies: names,
    };
    writeFileSync(join(stage, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    mkdirSync(outDir, { recursive: true });
    const [packed] = npmPack(stage, outDir);
    return join(outDir, packed.filename);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/**
 * A native addon as this machine built it: its main script, its compiled
 * .node files and its licence, under a package.json with no scripts and no
 * dependencies, so that npm neither compiles it again nor fetches its
 * build-time dependencies (fs-ext's nan) at install.
 */
function stagePrebuiltAddon(dir, stage) {
  const { name, version, description, license, main } = readJson(join(dir, "package.json"));
  const dest = join(stage, "node_modules", name);
  const release = join(dir, "build", "Release");
  const addons = existsSync(release) ? readdirSync(release).filter((f) => f.endsWith(".node")) : [];
  if (addons.length === 0) throw new PackFailure(`${name} has no compiled addon in ${release}: run 'npm ci' first`);
  for (const file of [main, ...addons.map((f) => `build/Release/${f}`), ...licencesOf(dir)]) {
    copyInto(join(dir, file), join(dest, file));
  }
  const manifest = { name, version, description, license, main };
  writeFileSync(join(dest, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  return version;
}

/** A JavaScript package as `npm pack` packs it (its `files`), unpacked into the stage's node_modules. */
function stagePackedPackage(name, dir, stage) {
  const dest = join(stage, "node_modules", name);
  mkdirSync(dest, { recursive: true });
  const scratch = mkdtempSync(join(tmpdir(), "airgrant-pack-dep-"));
  try {
    const [packed] = npmPack(dir, scratch);
    execFileSync("tar", ["-xzf", join(scratch, packed.filename), "-C", dest, "--strip-components=1"]);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return readJson(join(dest, "package.json"));
}

/** Where Node finds package `name` from `from`: the nearest node_modules/`name` up the tree, links followed. */
function packageDir(name, from) {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return realpathSync(candidate);
    if (dirname(dir) === dir) throw new PackFailure(`${name} is not installed: run 'npm ci' first`);
  }
}

function npmPack(dir, destination) {
  const out = execFileSync(
    "npm",
    ["pack", "--json", "--ignore-scripts", "--offline", "--pack-destination", destination, dir],
    { cwd: destination, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
  );
  return JSON.parse(out);
}

function licencesOf(dir) {
  return readdirSync(dir).filter((f) => /^(licen[cs]e|copying)/i.test(f));
}

function copyInto(from, to) {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
}

function readJson(path) {
  return JSON.parse(readFileSync(path, "utf8"));
}
