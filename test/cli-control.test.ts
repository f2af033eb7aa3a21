// Black-box: the README's main command (`weft control` on the embedded store) started as a real
// process, driven through the `weft` CLI as a user would.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCliControl, type CliControl } from "./support/cli-control.js";

describe("weft control + CLI", () => {
  let cli: CliControl;
  let dataDir = "";

  beforeAll(async () => {
    cli = await startCliControl();
    ({ dataDir } = cli);
  });

  afterAll(async () => {
    await cli?.stop();
  });

  const weft = (...args: string[]) => cli.weft(args);
  const weftFails = (...args: string[]) => cli.weftFails(args);

  it("registers apps, adds, lists and removes policies by app name", async () => {
    await weft("app", "register", "frontend", "--guid", "guid-frontend", "--space", "space-1", "--org", "org-1");
    await weft("app", "register", "backend", "--guid", "guid-backend", "--space", "space-1", "--org", "org-1");
    expect((await weft("policy", "add", "frontend", "--destination-app", "backend")).stdout).toMatch(/Added policy frontend -> backend tcp 8080/);
    await weft("policy", "add", "frontend", "--destination-app", "backend", "--protocol", "udp", "--port", "9000-9010");
    const table = (await weft("policy", "list")).stdout;
    expect(table.split("\n")[0]).toMatch(/^source\s+destination\s+protocol\s+ports\s+destination space\s+destination org$/);
    expect(table).toMatch(/frontend\s+backend\s+tcp\s+8080\s+space-1\s+org-1/);
    expect(table).toMatch(/frontend\s+backend\s+udp\s+9000-9010/);
    const json = JSON.parse((await weft("policy", "list", "--source", "frontend", "--json")).stdout) as { total_policies: number };
    expect(json.total_policies).toBe(2);
    await weft("policy", "remove", "frontend", "--destination-app", "backend", "--protocol", "udp", "--port", "9000-9010");
    expect(JSON.parse((await weft("policy", "list", "--json")).stdout)).toMatchObject({ total_policies: 1 });
  });

  it("fails with one clear line and a non-zero exit", async () => {
    const unknown = await weftFails("policy", "add", "frontend", "--destination-app", "nope");
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr.trim()).toBe("weft: app 'nope' not found");
    const half = await weftFails("policy", "add", "frontend", "--destination-app", "backend", "--port", "80");
    expect(half.stderr.trim()).toBe("weft: Incorrect usage: --protocol and --port flags must be specified together");
    const missing = await weftFails("policy", "remove", "frontend", "--destination-app", "backend", "--protocol", "tcp", "--port", "81");
    expect(missing.stderr.trim()).toBe("weft: policy does not exist");
  });

  it("mints scoped tokens that the server honours", async () => {
    const token = (await weft("token", "create", "--data-dir", dataDir, "--scope", "network.write", "--space", "space-1", "--ttl", "10m")).stdout.trim();
    const listed = await cli.weft(["policy", "list", "--json"], { WEFT_TOKEN: token });
    expect(JSON.parse(listed.stdout)).toMatchObject({ total_policies: 1 });
    const denied = await cli.weft(["app", "register", "x", "--space", "space-2", "--org", "o"], { WEFT_TOKEN: token }).catch(
      (e: { stderr: string }) => e,
    );
    expect((denied).stderr).toMatch(/403/);
  });
});
