// `weft route map|unmap|list`: internal routes (NAME.apps.internal) for apps.
import { Command } from "commander";
import { addClientOptions, clientFrom, type ClientFlags, type CliEnv } from "../context.js";
import { printJson, table } from "../output.js";
import { resolveApp } from "../resolve-app.js";

export function routeCommand(env: CliEnv): Command {
  const route = new Command("route").description("manage internal routes (NAME.apps.internal)");
  addClientOptions(route.command("map").argument("<app>").argument("<host>", "e.g. backend.apps.internal").description("map an internal route to an app")).action(
    async (app: string, host: string, flags: ClientFlags) => {
      const client = clientFrom(flags, env);
      const a = await resolveApp(client, app);
      await client.call("PUT", `/weft/v1/routes/${encodeURIComponent(host)}`, { app_guid: a.guid });
      process.stdout.write(`Mapped ${host.toLowerCase()} to ${a.name}\n`);
    },
  );
  addClientOptions(route.command("unmap").argument("<host>").description("remove an internal route")).action(async (host: string, flags: ClientFlags) => {
    await clientFrom(flags, env).call("DELETE", `/weft/v1/routes/${encodeURIComponent(host)}`);
    process.stdout.write(`Unmapped ${host.toLowerCase()}\n`);
  });
  addClientOptions(route.command("list").description("list internal routes").option("--json", "print JSON")).action(async (flags: ClientFlags & { json?: boolean }) => {
    const client = clientFrom(flags, env);
    const [routes, apps] = await Promise.all([
      client.call<{ routes: { host: string; app_guid: string }[] }>("GET", "/weft/v1/routes"),
      client.call<{ apps: { guid: string; name: string }[] }>("GET", "/weft/v1/apps"),
    ]);
    if (flags.json) {
      printJson(routes.body);
      return;
    }
    const names = new Map(apps.body.apps.map((a) => [a.guid, a.name]));
    process.stdout.write(table(["host", "app"], routes.body.routes.map((r) => [r.host, names.get(r.app_guid) ?? r.app_guid])));
  });
  return route;
}
