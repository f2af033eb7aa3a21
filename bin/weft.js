#!/usr/bin/env node
// The weft command runs the compiled output (npm run build, done by npm ci through "prepare").
await import("../dist/cli/main.js");
