// `weft asg create|update|delete|list|show|bind|unbind`: app security groups, in the cf CLI's
// style (cf create-security-group NAME RULES_FILE, cf bind-security-group ...): groups are named,
// rules are CF's ASG JSON given as a file or inline, output is a table or --json, and --wait
// returns once every connected cell enforces the change.
import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import type { ApiClient, ApiResponse } from "../api-client.js";
import { addClientOptions, clientFrom, type ClientFlags, type CliEnv } from "../context.js";
import { printJson, table } from "../output.js";
import { resolveApp } from "../resolve-app.js";
import { waitEnforced } from "../wait-enforced.js";
import { explainEgress, parseAsgRule, type ExplainGroup } from "../../common/asg-rules.js";
import { parseDuration } from "../../control/auth/tokens.js";

const BASE = "/weft/v1/security-groups";

interface GroupJson {
  guid: string;
  name: string;
  rules: Record<string, unknown>[];
  globally_enabled: { running: boolean; staging: boolean };
  relationships: { running_spaces: { data: { guid: string }[] }; staging_spaces: { data: { guid: string }[] } };
}

interface CommonFlags extends ClientFlags {
  json?: boolean;
  wait?: boolean;
  timeout: string;
}

/** Rules from a file path, or inline JSON (starting with `[`). */
export function readRules(arg: string): unknown {
  const text = arg.trim().startsWith("[") ? arg : (() => {
    try {
      return readFileSync(arg, "utf8");
    } catch (err) {
      throw new Error(`cannot read rules file ${arg}: ${(err as Error).message}`, { cause: err });
    }
  })();
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`invalid rules JSON in ${arg.trim().startsWith("[") ? "the argument" : arg}: ${(err as Error).message}`, { cause: err });
  }
}

function parseBool(v: string): boolean {
  if (v === "true") return true;
  if (v === "false") return false;
  throw new Error(`invalid value ${JSON.stringify(v)}: use true or false`);
}

async function findGroup(client: ApiClient, name: string): Promise<GroupJson> {
  const res = await client.call<{ security_groups: GroupJson[] }>("GET", `${BASE}?name=${encodeURIComponent(name)}`);
  const g = res.body.security_groups[0];
  if (!g) throw new Error(`security group ${name} not found`);
  return g;
}

function options(cmd: Command, wait = true): Command {
  const c = cmd.option("--json", "print JSON");
  if (wait) c.option("--wait", "return once every connected cell enforces the change").option("--timeout <duration>", "with --wait: give up after this long", "30s");
  return addClientOptions(c);
}

async function finish(client: ApiClient, res: ApiResponse<unknown>, flags: CommonFlags, line: string): Promise<void> {
  const header = res.headers["x-weft-revision"];
  let revision = header ? Number(header) : null;
  if (!flags.json) process.stdout.write(`${line}\n`);
  if (flags.wait) {
    revision ??= (await client.call<{ revision: number }>("GET", "/weft/v1/status")).body.revision;
    const tty = process.stderr.isTTY;
    await waitEnforced(client, revision, parseDuration(flags.timeout) * 1000, (l) => process.stderr.write(tty ? `\r${l}` : `${l}\n`));
    if (tty) process.stderr.write("\n");
    if (!flags.json) process.stdout.write(`Enforced on every connected cell (revision ${revision})\n`);
  }
  if (flags.json) printJson({ ...(typeof res.body === "object" && res.body ? res.body : {}), revision });
}

const spaces = (g: GroupJson, k: "running_spaces" | "staging_spaces") => g.relationships[k].data.map((d) => d.guid).join(",");

export function asgCommand(env: CliEnv): Command {
  const asg = new Command("asg").description("manage app security groups (egress allow-lists for containers)");

  options(
    asg
      .command("create")
      .argument("<name>")
      .argument("<rules>", "CF ASG rules: a JSON file, or inline JSON starting with [")
      .description("create a security group")
      .option("--running-default", "apply to every running container (global running default)")
      .option("--staging-default", "apply to every staging container (global staging default)"),
  ).action(async (name: string, rules: string, flags: CommonFlags & { runningDefault?: boolean; stagingDefault?: boolean }) => {
    const client = clientFrom(flags, env);
    const body = { name, rules: readRules(rules), globally_enabled: { running: Boolean(flags.runningDefault), staging: Boolean(flags.stagingDefault) } };
    const res = await client.call("POST", BASE, body);
    await finish(client, res, flags, `Created security group ${name}`);
  });

  options(
    asg
      .command("update")
      .argument("<name>")
      .description("change a security group's rules, name or global defaults")
      .option("--rules <rules>", "new rules: a JSON file, or inline JSON starting with [")
      .option("--new-name <name>", "rename the group")
      .option("--running-default <bool>", "true or false")
      .option("--staging-default <bool>", "true or false"),
  ).action(async (name: string, flags: CommonFlags & { rules?: string; newName?: string; runningDefault?: string; stagingDefault?: string }) => {
    const client = clientFrom(flags, env);
    const g = await findGroup(client, name);
    const globally: Record<string, boolean> = {};
    if (flags.runningDefault !== undefined) globally.running = parseBool(flags.runningDefault);
    if (flags.stagingDefault !== undefined) globally.staging = parseBool(flags.stagingDefault);
    const body = {
      ...(flags.rules !== undefined ? { rules: readRules(flags.rules) } : {}),
      ...(flags.newName !== undefined ? { name: flags.newName } : {}),
      ...(Object.keys(globally).length ? { globally_enabled: globally } : {}),
    };
    if (Object.keys(body).length === 0) throw new Error("nothing to change: give --rules, --new-name, --running-default or --staging-default");
    const res = await client.call("PATCH", `${BASE}/${encodeURIComponent(g.guid)}`, body);
    await finish(client, res, flags, `Updated security group ${name}`);
  });

  options(asg.command("delete").argument("<name>").description("delete a security group")).action(async (name: string, flags: CommonFlags) => {
    const client = clientFrom(flags, env);
    const g = await findGroup(client, name);
    const res = await client.call("DELETE", `${BASE}/${encodeURIComponent(g.guid)}`);
    await finish(client, res, flags, `Deleted security group ${name}`);
  });

  for (const [verb, text] of [
    ["bind", "bind a security group to a space (running containers unless --lifecycle staging)"],
    ["unbind", "unbind a security group from a space"],
  ] as const) {
    options(
      asg
        .command(verb)
        .argument("<name>")
        .argument("<space-guid>")
        .description(text)
        .addOption(new Option("--lifecycle <lifecycle>", "running or staging containers").choices(["running", "staging"]).default("running")),
    ).action(async (name: string, space: string, flags: CommonFlags & { lifecycle: "running" | "staging" }) => {
      const client = clientFrom(flags, env);
      const g = await findGroup(client, name);
      const rel = `${BASE}/${encodeURIComponent(g.guid)}/relationships/${flags.lifecycle}_spaces`;
      const res =
        verb === "bind"
          ? await client.call("POST", rel, { data: [{ guid: space }] })
          : await client.call("DELETE", `${rel}/${encodeURIComponent(space)}`);
      await finish(client, res, flags, `${verb === "bind" ? "Bound" : "Unbound"} security group ${name} ${verb === "bind" ? "to" : "from"} space ${space} (${flags.lifecycle})`);
    });
  }

  options(asg.command("list").description("list security groups"), false).action(async (flags: ClientFlags & { json?: boolean }) => {
    const client = clientFrom(flags, env);
    const res = await client.call<{ security_groups: GroupJson[] }>("GET", BASE);
    const groups = res.body.security_groups;
    if (flags.json) {
      printJson({ security_groups: groups });
      return;
    }
    process.stdout.write(
      table(
        ["name", "rules", "running default", "staging default", "running spaces", "staging spaces"],
        groups.map((g) => [g.name, String(g.rules.length), String(g.globally_enabled.running), String(g.globally_enabled.staging), spaces(g, "running_spaces"), spaces(g, "staging_spaces")]),
      ),
    );
  });

  options(asg.command("show").argument("<name>").description("show a security group and its rules"), false).action(async (name: string, flags: ClientFlags & { json?: boolean }) => {
    const client = clientFrom(flags, env);
    const g = await findGroup(client, name);
    if (flags.json) {
      printJson(g);
      return;
    }
    process.stdout.write(
      `name: ${g.name}\nguid: ${g.guid}\nrunning default: ${g.globally_enabled.running}\nstaging default: ${g.globally_enabled.staging}\n` +
        `running spaces: ${spaces(g, "running_spaces") || "-"}\nstaging spaces: ${spaces(g, "staging_spaces") || "-"}\n\n` +
        table(
          ["protocol", "destination", "ports", "type", "code", "log", "description"],
          g.rules.map((r) => ["protocol", "destination", "ports", "type", "code", "log", "description"].map((k) => (r[k] === undefined ? "" : typeof r[k] === "string" ? r[k] : JSON.stringify(r[k])))),
        ),
    );
  });
  options(
    asg
      .command("explain")
      .argument("<app>", "source app (name or GUID)")
      .argument("<destination-ip>")
      .description("say whether a new connection from an app's containers to a destination outside the overlay is allowed, and by which rule")
      .addOption(new Option("--protocol <protocol>", "tcp, udp or icmp").choices(["tcp", "udp", "icmp"]).default("tcp"))
      .option("--port <port>", "destination port (tcp, udp)")
      .option("--icmp-type <type>", "ICMP type (default 8, echo request)")
      .addOption(new Option("--lifecycle <lifecycle>", "running or staging containers").choices(["running", "staging"]).default("running"))
      .option("-s, --space <guid>", "space of the app, when its name is ambiguous"),
    false,
  ).action(async (appArg: string, destination: string, flags: ClientFlags & { json?: boolean; protocol: "tcp" | "udp" | "icmp"; port?: string; icmpType?: string; lifecycle: "running" | "staging"; space?: string }) => {
    const client = clientFrom(flags, env);
    if (flags.protocol !== "icmp" && flags.port === undefined) throw new Error(`--port is required for ${flags.protocol}`);
    const port = flags.port === undefined ? undefined : Number(flags.port);
    if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) throw new Error(`invalid --port ${JSON.stringify(flags.port)}: 1-65535`);
    const app = await resolveApp(client, appArg, flags.space);
    const res = await client.call<{ security_groups: GroupJson[] }>("GET", BASE);
    const groups: ExplainGroup[] = res.body.security_groups.map((g) => ({
      name: g.name,
      rules: g.rules.map((r, i) => parseAsgRule(r, i)),
      runningDefault: g.globally_enabled.running,
      stagingDefault: g.globally_enabled.staging,
      runningSpaces: g.relationships.running_spaces.data.map((d) => d.guid),
      stagingSpaces: g.relationships.staging_spaces.data.map((d) => d.guid),
    }));
    const answer = explainEgress(groups, {
      spaceGuid: app.space_guid,
      lifecycle: flags.lifecycle,
      destination,
      protocol: flags.protocol,
      ...(port !== undefined ? { port } : {}),
      ...(flags.icmpType !== undefined ? { icmpType: Number(flags.icmpType) } : {}),
    });
    if (flags.json) {
      printJson({ app: app.guid, space: app.space_guid, org: app.org_guid, lifecycle: flags.lifecycle, destination, protocol: flags.protocol, port: port ?? null, ...answer });
      return;
    }
    const what = `${flags.protocol} ${destination}${port !== undefined ? `:${port}` : ""} from ${app.name} (space ${app.space_guid}, ${flags.lifecycle})`;
    const applying = answer.groups.length ? answer.groups.join(", ") : "none";
    if (answer.allowed) {
      const m = answer.matches.map((x) => `${x.group} rule ${x.index}${x.rule.log ? " (logged)" : ""}`).join("; ");
      process.stdout.write(`ALLOWED: ${what}\n  by ${m}\n  groups that apply: ${applying}\n`);
    } else {
      process.stdout.write(`DENIED: ${what}\n  no rule of the groups that apply allows it (groups: ${applying})\n`);
    }
    process.stdout.write("  (ASGs govern egress beyond the overlay; container-to-container traffic is governed by policies: weft policy list; the cell host only by its DNS and configured host services)\n");
  });
  return asg;
}
