// Black-box: `weft asg ...` against a real `weft control` process (embedded store): create from a
// rules file and inline JSON, list as a table and JSON, show, bind and unbind for running and
// staging, update, delete, and one-line errors that name the bad field.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCliControl, type CliControl } from "./support/cli-control.js";

describe("weft asg CLI", () => {
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

  it("creates, lists, shows, binds, unbinds, updates and deletes security groups", async () => {
    const file = join(dataDir, "rules.json");
    writeFileSync(file, JSON.stringify([{ protocol: "tcp", destination: "10.0.0.0/8", ports: "80,443" }, { protocol: "icmp", destination: "0.0.0.0/0", type: -1, code: -1 }]));
    expect((await weft("asg", "create", "public", file, "--running-default")).stdout).toBe("Created security group public\n");
    await weft("asg", "create", "dns", '[{"protocol":"udp","destination":"8.8.8.8","ports":"53"}]');
    const listed = (await weft("asg", "list")).stdout.split("\n");
    expect(listed[0]).toMatch(/^name\s+rules\s+running default\s+staging default\s+running spaces\s+staging spaces$/);
    expect(listed.find((l) => l.startsWith("public"))).toMatch(/^public\s+2\s+true\s+false/);
    expect((await weft("asg", "bind", "dns", "space-1")).stdout).toContain("Bound security group dns to space space-1 (running)");
    await weft("asg", "bind", "dns", "space-2", "--lifecycle", "staging");
    const json = JSON.parse((await weft("asg", "list", "--json")).stdout) as { security_groups: { name: string; relationships: { running_spaces: { data: { guid: string }[] }; staging_spaces: { data: { guid: string }[] } } }[] };
    const dns = json.security_groups.find((g) => g.name === "dns")!;
    expect(dns.relationships.running_spaces.data).toEqual([{ guid: "space-1" }]);
    expect(dns.relationships.staging_spaces.data).toEqual([{ guid: "space-2" }]);
    expect((await weft("asg", "show", "dns")).stdout).toMatch(/udp\s+8\.8\.8\.8\s+53/);
    await weft("asg", "unbind", "dns", "space-1");
    await weft("asg", "update", "dns", "--rules", '[{"protocol":"all","destination":"8.8.4.4"}]', "--staging-default", "true", "--new-name", "dns-2");
    const shown = JSON.parse((await weft("asg", "show", "dns-2", "--json")).stdout) as { rules: unknown[]; globally_enabled: unknown; relationships: { running_spaces: { data: unknown[] } } };
    expect(shown.rules).toEqual([{ protocol: "all", destination: "8.8.4.4" }]);
    expect(shown.globally_enabled).toEqual({ running: false, staging: true });
    expect(shown.relationships.running_spaces.data).toEqual([]);
    expect((await weft("asg", "delete", "dns-2")).stdout).toBe("Deleted security group dns-2\n");
    expect((await weft("asg", "list")).stdout).not.toContain("dns-2");
  });

  it("explains whether an app may reach a destination, and by which rule", async () => {
    await weft("app", "register", "web", "--guid", "guid-web", "--space", "space-9", "--org", "org-9");
    await weft("asg", "create", "db", '[{"protocol":"tcp","destination":"10.1.0.0/16","ports":"5432","log":true}]');
    expect((await weft("asg", "explain", "web", "10.1.2.3", "--port", "5432")).stdout).toMatch(/^DENIED: tcp 10\.1\.2\.3:5432 from web \(space space-9, running\)/);
    await weft("asg", "bind", "db", "space-9");
    const allowed = (await weft("asg", "explain", "web", "10.1.2.3", "--port", "5432")).stdout;
    expect(allowed).toMatch(/^ALLOWED: tcp 10\.1\.2\.3:5432/);
    expect(allowed).toContain("by db rule 0 (logged)");
    expect((await weft("asg", "explain", "web", "10.1.2.3", "--port", "5432", "--lifecycle", "staging")).stdout).toMatch(/^DENIED/);
    const json = JSON.parse((await weft("asg", "explain", "web", "10.2.0.1", "--port", "5432", "--json")).stdout) as { allowed: boolean; groups: string[] };
    expect(json.allowed).toBe(false);
    expect(json.groups.sort(), "db (bound) and public (the running default of the first test)").toEqual(["db", "public"]);
    await weft("asg", "delete", "db");
  });

  it("fails with one line naming the problem", async () => {
    const bad = await weftFails("asg", "create", "bad", '[{"protocol":"tcp","destination":"10.0.0.1","ports":"0-5"}]');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toContain("invalid rules[0].ports");
    expect((await weftFails("asg", "bind", "nope", "space-1")).stderr).toContain("security group nope not found");
    expect((await weftFails("asg", "create", "x", "/nonexistent/rules.json")).stderr).toContain("cannot read rules file");
  });
});
