// Where the CLI points: flags, then the environment, then a running `weft up` mesh, then the local
// control data dir.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_API, DEFAULT_DATA_DIR, localControl } from "./context.js";
import { newState, saveState } from "./up/state.js";

describe("localControl", () => {
  const upDir = mkdtempSync(join(tmpdir(), "weft-cli-up-"));
  const state = newState(upDir, "wtcli");
  state.apiUrl = "https://127.0.0.1:14999";
  state.controlDataDir = join(upDir, "control");
  saveState(state);
  afterAll(() => rmSync(upDir, { recursive: true, force: true }));

  it("follows a running up-mesh when nothing is named", () => {
    expect(localControl({}, { WEFT_UP_DIR: upDir })).toEqual({ api: "https://127.0.0.1:14999", dataDir: join(upDir, "control") });
  });

  it("leaves the up-mesh alone when the API or a data dir is named", () => {
    expect(localControl({}, { WEFT_UP_DIR: upDir, WEFT_API: "https://ctl:4002" })).toEqual({ api: "https://ctl:4002", dataDir: DEFAULT_DATA_DIR });
    expect(localControl({ dataDir: "/srv/ctl" }, { WEFT_UP_DIR: upDir })).toEqual({ api: DEFAULT_API, dataDir: "/srv/ctl" });
    expect(localControl({ api: "https://x:1" }, { WEFT_UP_DIR: upDir }).dataDir).toBe(DEFAULT_DATA_DIR);
  });

  it("falls back to the local control data dir without an up-mesh", () => {
    expect(localControl({}, { WEFT_UP_DIR: join(upDir, "none") })).toEqual({ api: DEFAULT_API, dataDir: DEFAULT_DATA_DIR });
  });
});
