// Builds the host verifier as a command that needs no Node on the host:
// `node scripts/build-sea.mjs MAIN LAUNCHER OUT`, from a package's directory.
// MAIN is the one-file CommonJS command (scripts/bundle-cli.mjs); OUT-runtime
// gets a Node runtime with MAIN's start-up snapshot injected (Node's single
// executable applications), and OUT the static launcher compiled from
// LAUNCHER, which starts OUT-runtime with a clean environment
// (docs/verifier.md, "Environment"); OUT-runtime.LICENSE is the runtime's
// license, for whoever ships it (scripts/build-deb.mjs).
//
// The runtime is Node 24 LTS, not the Node that builds: Node 20 cannot make a
// single executable refuse NODE_OPTIONS, Node 24 can (`execArgvExtension:
// "none"`), and pam_exec runs the verifier as root with an environment users
// can set. It comes from the npm registry, where nodejs.org's Linux builds
// are published as node-linux-<arch>, and is checked against the integrity
// pinned below before it is used: a registry that served other bytes stops
// the build.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { inject } from "postject";

const RUNTIME_VERSION = "24.22.3";
/** dist.integrity of node-linux-<arch>@RUNTIME_VERSION, as `npm view` printed it when it was pinned. */
const RUNTIME_INTEGRITY = {
  x64: "sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==",
  arm64: "sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==",
};
/** The fuse Node looks for to know a blob was injected (doc/api/single-executable-applications.md). */
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
/**
 * What the executable always starts with, and nothing else (execArgvExtension
 * "none"). OpenSSL reads a configuration file at start-up, named by
 * OPENSSL_CONF unless Node is given one: an empty one here, so that no
 * environment can make OpenSSL load a module into the verifier. No warnings:
 * NODE_REDIRECT_WARNINGS would have root append them to a file it names.
 * No JIT: the verifier parses hostile bytes as root, and without a compiler
 * V8 maps no memory both writable and executable; a login runs too briefly
 * for compiled code to pay (bench/verifier.bench.ts). No debugger on SIGUSR1:
 * Node would start one, and the signal breaks the read of the grant.
 * V8 keeps drawing a fresh hash seed at every start, which `--no-rehash-snapshot`
 * would save a login (4-7 ms, README "Where the time goes"): the seed
 * would be the snapshot's, readable in every copy of the package, and bytes
 * a host parses before it checks their signatures (a bundle or update, up
 * to 4 MiB) could then be chosen to collide in V8's hash tables.
 */
const EXEC_ARGV = ["--openssl-config=/dev/null", "--no-warnings", "--jitless", "--disable-sigusr1"];

const [main, launcher, out] = process.argv.slice(2);
if (main === undefined || launcher === undefined || out === undefined) {
  process.stderr.write("usage: node scripts/build-sea.mjs MAIN LAUNCHER OUT\n");
  process.exit(2);
}
const integrity = RUNTIME_INTEGRITY[process.arch];
if (integrity === undefined) {
  process.stderr.write(`build-sea: no Node runtime is pinned for ${process.arch}; add node-linux-${process.arch}\n`);
  process.exit(3);
}

const cache = resolve(dirname(fileURLToPath(import.meta.url)), "../node_modules/.cache/airgrant-sea");
const runtime = join(cache, `node-${RUNTIME_VERSION}-linux-${process.arch}`);
// Node's license and the notices of the parts it bundles travel with every copy of the runtime.
const runtimeLicense = join(cache, `LICENSE-node-${RUNTIME_VERSION}-linux-${process.arch}`);

/** The pinned runtime and its license, fetched once into node_modules/.cache (npm's own cache serves it offline after). */
function pinnedRuntime() {
  if (existsSync(runtime) && existsSync(runtimeLicense)) return runtime;
  mkdirSync(cache, { recursive: true });
  const spec = `node-linux-${process.arch}@${RUNTIME_VERSION}`;
  const [packed] = JSON.parse(
    execFileSync("npm", ["pack", spec, "--json", "--pack-destination", cache], { encoding: "utf8" }),
  );
  const tarball = join(cache, packed.filename);
  const actual = `sha512-${createHash("sha512").update(readFileSync(tarball)).digest("base64")}`;
  if (actual !== integrity) {
    rmSync(tarball);
    throw new Error(`${spec} from the registry is ${actual}, not the pinned ${integrity}`);
  }
  execFileSync("tar", ["-xzf", tarball, "-C", cache, "package/bin/node", "package/LICENSE"]);
  rmSync(tarball);
  renameSync(join(cache, "package/LICENSE"), runtimeLicense);
  renameSync(join(cache, "package/bin/node"), runtime);
  rmSync(join(cache, "package"), { recursive: true });
  return runtime;
}

/**
 * The snapshot's entry: MAIN compiled with every one of its functions made
 * at once, so that their bytecode is in the snapshot. Otherwise V8 compiles
 * each function at its first call, in every process: a tenth of what a
 * login waits for (bench/verifier.bench.ts). Only MAIN's functions: Node's
 * own modules stay as Node makes them, and nothing of MAIN runs here beyond
 * what it runs at load. MAIN keeps its name (its --version finds
 * ../package.json by it), and its `#!` line becomes a comment, so that line
 * numbers hold.
 */
function eagerEntry(mainPath) {
  const source = readFileSync(mainPath, "utf8").replace(/^#!/, "//");
  const path = JSON.stringify(mainPath);
  return `"use strict";
const v8 = require("node:v8");
v8.setFlagsFromString("--no-lazy");
const main = require("node:vm").compileFunction(${JSON.stringify(source)}, ["exports", "require", "module", "__filename", "__dirname"], { filename: ${path} });
v8.setFlagsFromString("--lazy");
const module = { exports: {} };
main(module.exports, require, module, ${path}, ${JSON.stringify(dirname(mainPath))});
`;
}

/**
 * The single executable's preparation blob with the code cache of Node's
 * own modules taken out of its snapshot. The cache of a module the
 * snapshot holds serves nothing, since that module is never compiled
 * again; the cache of one a command loads later (child_process, for doctor
 * and a session's watcher) saves that command less than every start pays
 * to copy the cache out of the executable: 1.7 MB of the 5.6 MB snapshot,
 * 400 page faults and 4 M instructions a login, where doctor compiles its
 * few modules in less (bench/verifier.bench.ts). The layout is that of the
 * pinned runtime's src/node_sea.cc and src/node_snapshotable.cc (the code
 * cache is the snapshot's last part: a count, then for each module its id
 * and its data, each a little-endian u64 length and the bytes); anything
 * else stops the build.
 */
function withoutCodeCache(prep, entryPath) {
  const fail = (what) => {
    throw new Error(`build-sea: the preparation blob is not laid out as expected: ${what}`);
  };
  const u64 = (buf, at) => {
    if (at + 8 > buf.length) fail(`a length past the end at ${at}`);
    const n = buf.readBigUInt64LE(at);
    if (n > BigInt(buf.length)) fail(`a length of ${n} at ${at}`);
    return Number(n);
  };
  const SEA_MAGIC = 0x143da20;
  const SNAPSHOT_MAGIC = 0x143da19;
  if (prep.readUInt32LE(0) !== SEA_MAGIC) fail("no SEA magic");
  // magic, flags, and the execArgvExtension byte; then the entry's path.
  let at = 9;
  const pathLength = u64(prep, at);
  if (prep.subarray(at + 8, at + 8 + pathLength).toString() !== entryPath) fail("no entry path");
  at += 8 + pathLength;
  const snapshotLength = u64(prep, at);
  const snapshot = prep.subarray(at + 8, at + 8 + snapshotLength);
  if (snapshot.length !== snapshotLength || snapshot.readUInt32LE(0) !== SNAPSHOT_MAGIC) fail("no snapshot magic");
  const isId = (bytes) => /^[a-z_][a-zA-Z0-9_/.:-]*$/.test(bytes.toString("latin1"));
  /** The ids of the code cache's entries when one starts at `start` and ends the snapshot exactly; undefined otherwise. */
  const entriesAt = (start) => {
    const count = snapshot.readBigUInt64LE(start);
    if (count === 0n || count > 10_000n) return undefined;
    const entries = [];
    let p = start + 8;
    for (let i = 0n; i < count; i++) {
      if (p + 8 > snapshot.length) return undefined;
      const idLength = Number(snapshot.readBigUInt64LE(p));
      if (idLength === 0 || idLength > 255 || p + 8 + idLength > snapshot.length) return undefined;
      const id = snapshot.subarray(p + 8, p + 8 + idLength);
      if (!isId(id)) return undefined;
      p += 8 + idLength;
      if (p + 8 > snapshot.length) return undefined;
      const dataLength = snapshot.readBigUInt64LE(p);
      if (dataLength > BigInt(snapshot.length - p - 8)) return undefined;
      entries.push(id.toString("latin1"));
      p += 8 + Number(dataLength);
    }
    return p === snapshot.length ? entries : undefined;
  };
  let start = -1;
  let entries;
  for (let p = 4; p + 16 <= snapshot.length && entries === undefined; p++) {
    // Cheap first: a count, then an id's length and first letter.
    if (snapshot.readUInt32LE(p + 4) !== 0 || snapshot.readUInt16LE(p + 2) !== 0) continue;
    if (
      snapshot[p + 8] === 0 ||
      snapshot.readUInt32LE(p + 12) !== 0 ||
      !/[a-z_]/.test(String.fromCharCode(snapshot[p + 16]))
    )
      continue;
    entries = entriesAt(p);
    if (entries !== undefined) start = p;
  }
  if (entries === undefined) fail("no code cache at the snapshot's end");
  const stripped = Buffer.concat([snapshot.subarray(0, start), Buffer.alloc(8)]);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(stripped.length));
  return {
    blob: Buffer.concat([prep.subarray(0, at), length, stripped, prep.subarray(at + 8 + snapshotLength)]),
    dropped: entries.length,
  };
}

const node = pinnedRuntime();
const output = `${resolve(out)}-runtime`;
const blob = `${output}.blob`;
const config = `${output}.sea.json`;
const entry = `${output}.entry.cjs`;
writeFileSync(entry, eagerEntry(resolve(main)));
writeFileSync(
  config,
  JSON.stringify({
    main: entry,
    output: blob,
    disableExperimentalSEAWarning: true,
    useSnapshot: true,
    execArgv: EXEC_ARGV,
    execArgvExtension: "none",
  }),
);
execFileSync(node, ["--no-warnings", "--experimental-sea-config", config], { stdio: ["ignore", "ignore", "inherit"] });
const prepared = withoutCodeCache(readFileSync(blob), entry);
process.stdout.write(`build-sea: the snapshot drops the code cache of ${prepared.dropped} modules\n`);
const staged = `${output}.tmp`;
copyFileSync(node, staged);
await inject(staged, "NODE_SEA_BLOB", prepared.blob, { sentinelFuse: SEA_FUSE });
chmodSync(staged, 0o755);
renameSync(staged, output);
rmSync(blob);
rmSync(config);
rmSync(entry);
copyFileSync(runtimeLicense, `${output}.LICENSE`);

// Static, so that no dynamic loader reads the environment it is started with.
const launcherOut = resolve(out);
execFileSync(
  "cc",
  [
    "-std=c11",
    "-D_GNU_SOURCE",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Os",
    "-static",
    "-s",
    "-o",
    `${launcherOut}.tmp`,
    resolve(launcher),
  ],
  {
    stdio: ["ignore", "inherit", "inherit"],
  },
);
renameSync(`${launcherOut}.tmp`, launcherOut);
