// `weft status`: the current revision and, per cell, what it enforces, its lag, its last nack and
// its last contact.
import { Command } from "commander";
import { addClientOptions, clientFrom, type ClientFlags, type CliEnv } from "../context.js";
import { printJson, table } from "../output.js";
import type { StatusJson } from "../wait-enforced.js";

export function statusCommand(env: CliEnv): Command {
  return addClientOptions(new Command("status").description("show the revision each cell enforces").option("--json", "print JSON")).action(
    async (flags: ClientFlags & { json?: boolean }) => {
      const status = (await clientFrom(flags, env).call<StatusJson>("GET", "/weft/v1/status")).body;
      if (flags.json) {
        printJson(status);
        return;
      }
      process.stdout.write(`revision ${status.revision}\n\n`);
      process.stdout.write(
        table(
          ["cell", "underlay", "connected", "enforced", "lag", "last nack", "last contact"],
          status.cells.map((c) => [
            c.cell_id,
            c.underlay_ip ?? "",
            c.connected ? "yes" : "no",
            String(c.enforced_revision),
            String(c.lag),
            c.last_nack ? `${c.last_nack.revision}: ${c.last_nack.error}` : "",
            c.last_contact ?? "never",
          ]),
        ),
      );
    },
  );
}
