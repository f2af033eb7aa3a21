// `weft app register|list|show|delete`: the app registry that policies, tags and routes hang off.
import { randomUUID } from "node:crypto";
import { Command } from "commander";
import { addClientOptions, clientFrom, type ClientFlags, type CliEnv } from "../context.js";
import { printJson, table } from "../output.js";
import { resolveApp, type AppJson } from "../resolve-app.js";

export function appCommand(env: CliEnv): Command {
  const app = new Command("app").description("manage the app registry");

  addClientOptions(
    app
      .command("register")
      .argument("<name>")
      .description("register (or update) an app")
      .option("--guid <guid>", "app GUID (default: a new UUID)")
      .requiredOption("--space <guid>", "space GUID")
      .requiredOption("--org <guid>", "org GUID")
      .option("--json", "print JSON"),
  ).action(async (name: string, flags: ClientFlags & { guid?: string; space: string; org: string; json?: boolean }) => {
    const client = clientFrom(flags, env);
    const guid = flags.guid ?? randomUUID();
    const res = await client.call<AppJson>("PUT", `/weft/v1/apps/${encodeURIComponent(guid)}`, {
      name,
      space_guid: flags.space,
      org_guid: flags.org,
    });
    if (flags.json) printJson(res.body);
    else process.stdout.write(`${res.status === 201 ? "Registered" : "Updated"} app ${name} (${guid})\n`);
  });

  addClientOptions(app.command("list").description("list apps").option("--name <name>", "only apps with this name").option("--json", "print JSON")).action(
    async (flags: ClientFlags & { name?: string; json?: boolean }) => {
      const client = clientFrom(flags, env);
      const res = await client.call<{ apps: AppJson[] }>("GET", `/weft/v1/apps${flags.name ? `?name=${encodeURIComponent(flags.name)}` : ""}`);
      if (flags.json) printJson(res.body);
      else process.stdout.write(table(["name", "guid", "space", "org"], res.body.apps.map((a) => [a.name, a.guid, a.space_guid, a.org_guid])));
    },
  );

  addClientOptions(app.command("show").argument("<app>").description("show one app").option("--json", "print JSON")).action(
    async (nameOrGuid: string, flags: ClientFlags & { json?: boolean }) => {
      const a = await resolveApp(clientFrom(flags, env), nameOrGuid);
      if (flags.json) printJson(a);
      else process.stdout.write(table(["name", "guid", "space", "org"], [[a.name, a.guid, a.space_guid, a.org_guid]]));
    },
  );

  addClientOptions(app.command("delete").argument("<app>").description("delete an app, its policies and routes")).action(
    async (nameOrGuid: string, flags: ClientFlags) => {
      const client = clientFrom(flags, env);
      const a = await resolveApp(client, nameOrGuid);
      await client.call("DELETE", `/weft/v1/apps/${encodeURIComponent(a.guid)}`);
      process.stdout.write(`Deleted app ${a.name} (${a.guid})\n`);
    },
  );
  return app;
}
