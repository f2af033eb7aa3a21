// `weft policy add|list|remove`, with the cf CLI's UX: app names resolve to GUIDs, protocol and
// port default to tcp 8080 together, and giving only one of them is an error.
import { Command, Option } from "commander";
import type { ApiClient } from "../api-client.js";
import { addClientOptions, clientFrom, type ClientFlags, type CliEnv } from "../context.js";
import { printJson, table } from "../output.js";
import { resolveApp, type AppJson } from "../resolve-app.js";
import { waitEnforced } from "../wait-enforced.js";
import { parseDuration } from "../../control/auth/tokens.js";

interface PolicyJson {
  source: { id: string };
  destination: { id: string; protocol: string; ports: { start: number; end: number } };
}

interface TargetFlags extends ClientFlags {
  destinationApp: string;
  protocol?: string;
  port?: string;
  space?: string;
  json?: boolean;
}

export function parsePortRange(value: string): { start: number; end: number } {
  const m = /^(\d+)(?:-(\d+))?$/.exec(value.trim());
  const start = Number(m?.[1]);
  const end = Number(m?.[2] ?? m?.[1]);
  if (!m || start < 1 || end > 65535 || start > end) throw new Error(`invalid port ${JSON.stringify(value)}: use N or N-M within 1-65535`);
  return { start, end };
}

async function policyFrom(client: ApiClient, source: string, flags: TargetFlags): Promise<PolicyJson> {
  if ((flags.protocol === undefined) !== (flags.port === undefined)) {
    throw new Error("Incorrect usage: --protocol and --port flags must be specified together");
  }
  const [src, dst] = await Promise.all([resolveApp(client, source, flags.space), resolveApp(client, flags.destinationApp, flags.space)]);
  return {
    source: { id: src.guid },
    destination: { id: dst.guid, protocol: flags.protocol ?? "tcp", ports: parsePortRange(flags.port ?? "8080") },
  };
}

function targetOptions(cmd: Command): Command {
  return addClientOptions(
    cmd
      .requiredOption("--destination-app <app>", "destination app (name or GUID)")
      .addOption(new Option("--protocol <protocol>", "tcp or udp").choices(["tcp", "udp"]))
      .option("--port <port>", "port or range, e.g. 8080 or 8080-8090")
      .option("-s, --space <guid>", "space of the apps, when names are ambiguous")
      .option("--json", "print JSON"),
  );
}

export function policyCommand(env: CliEnv): Command {
  const policy = new Command("policy").description("manage network policies (source app -> destination app)");

  targetOptions(
    policy
      .command("add")
      .argument("<source-app>")
      .description("allow traffic from one app to another")
      .option("--wait", "return once every connected cell enforces the policy")
      .option("--timeout <duration>", "with --wait: give up after this long", "30s"),
  ).action(async (source: string, flags: TargetFlags & { wait?: boolean; timeout: string }) => {
    const client = clientFrom(flags, env);
    const p = await policyFrom(client, source, flags);
    const res = await client.call("POST", "/networking/v1/external/policies", { policies: [p] });
    const header = res.headers["x-weft-revision"];
    let revision = header ? Number(header) : null;
    if (!flags.json) process.stdout.write(`Added policy ${source} -> ${flags.destinationApp} ${p.destination.protocol} ${flags.port ?? "8080"}\n`);
    if (flags.wait) {
      revision ??= (await client.call<{ revision: number }>("GET", "/weft/v1/status")).body.revision;
      const tty = process.stderr.isTTY;
      await waitEnforced(client, revision, parseDuration(flags.timeout) * 1000, (line) => process.stderr.write(tty ? `\r${line}` : `${line}\n`));
      if (tty) process.stderr.write("\n");
      if (!flags.json) process.stdout.write(`Enforced on every connected cell (revision ${revision})\n`);
    }
    if (flags.json) printJson({ policy: p, revision });
  });

  targetOptions(policy.command("remove").argument("<source-app>").description("remove a policy")).action(
    async (source: string, flags: TargetFlags) => {
      const client = clientFrom(flags, env);
      const p = await policyFrom(client, source, flags);
      // Like the cf CLI: a policy that does not exist is an error client-side.
      const existing = await client.call<{ policies: PolicyJson[] }>("GET", `/networking/v1/external/policies?id=${encodeURIComponent(p.source.id)}`);
      const found = existing.body.policies.some(
        (q) =>
          q.source.id === p.source.id &&
          q.destination.id === p.destination.id &&
          q.destination.protocol === p.destination.protocol &&
          q.destination.ports.start === p.destination.ports.start &&
          q.destination.ports.end === p.destination.ports.end,
      );
      if (!found) throw new Error("policy does not exist");
      await client.call("POST", "/networking/v1/external/policies/delete", { policies: [p] });
      if (flags.json) printJson({ removed: p });
      else process.stdout.write(`Removed policy ${source} -> ${flags.destinationApp}\n`);
    },
  );

  addClientOptions(
    policy
      .command("list")
      .description("list policies")
      .option("--source <app>", "only policies with this source app")
      .option("--json", "print JSON"),
  ).action(async (flags: ClientFlags & { source?: string; json?: boolean }) => {
    const client = clientFrom(flags, env);
    let path = "/networking/v1/external/policies";
    let sourceGuid: string | undefined;
    if (flags.source) {
      sourceGuid = (await resolveApp(client, flags.source)).guid;
      path += `?id=${encodeURIComponent(sourceGuid)}`;
    }
    const [res, apps] = await Promise.all([
      client.call<{ policies: PolicyJson[] }>("GET", path),
      client.call<{ apps: AppJson[] }>("GET", "/weft/v1/apps"),
    ]);
    const policies = res.body.policies.filter((p) => sourceGuid === undefined || p.source.id === sourceGuid);
    if (flags.json) {
      printJson({ total_policies: policies.length, policies });
      return;
    }
    const byGuid = new Map(apps.body.apps.map((a) => [a.guid, a]));
    const name = (g: string) => byGuid.get(g)?.name ?? g;
    const ports = (p: PolicyJson) => (p.destination.ports.start === p.destination.ports.end ? String(p.destination.ports.start) : `${p.destination.ports.start}-${p.destination.ports.end}`);
    process.stdout.write(
      table(
        ["source", "destination", "protocol", "ports", "destination space", "destination org"],
        policies.map((p) => [
          name(p.source.id),
          name(p.destination.id),
          p.destination.protocol,
          ports(p),
          byGuid.get(p.destination.id)?.space_guid ?? "",
          byGuid.get(p.destination.id)?.org_guid ?? "",
        ]),
      ),
    );
  });
  return policy;
}
