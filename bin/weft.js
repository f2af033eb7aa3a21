#!/usr/bin/env node
// The weft command runs the compiled output (npm run build, done by npm ci through "prepare").
// A subcommand that needs Node flags from process start (`weft dns`, see cli/node-flags.ts) is run
// again as a child with them.
import { fileURLToPath } from "node:url";

const { missingNodeFlags, relaunch } = await import("../dist/cli/node-flags.js");
const argv = process.argv.slice(2);
const flags = missingNodeFlags(argv, process.execArgv);
if (flags.length > 0) relaunch(fileURLToPath(import.meta.url), argv, flags);
else await import("../dist/cli/main.js");
