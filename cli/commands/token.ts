// `weft token create`: prints a bearer token signed by a control plane's key (in its data dir).
import { Command, Option } from "commander";
import { SCOPES, issueToken, loadOrCreateSigningKey, parseDuration } from "../../control/auth/tokens.js";
import { DEFAULT_DATA_DIR, clientFrom, localControl, type CliEnv } from "../context.js";

const collect = (v: string, acc: string[]) => [...acc, v];

export function tokenCommand(env: CliEnv): Command {
  const token = new Command("token").description("manage API tokens");
  token
    .command("create")
    .description("print a bearer token signed by this control plane")
    .option("--data-dir <dir>", `the control plane's data dir (env WEFT_DATA_DIR, default ${DEFAULT_DATA_DIR})`)
    .addOption(new Option("--scope <scope>", "token scope").choices([...SCOPES]))
    .option("--join", "mint a one-time join token for a cell (through the API, admin)")
    .option("--cell <id>", "with --join: bind the token to this cell id")
    .option("--api <url>", "with --join: control plane API URL (env WEFT_API)")
    .option("--subject <name>", "who the token is for", "operator")
    .option("--space <guid>", "a space the holder may act in (repeatable; for network.write)", collect, [])
    .option("--ttl <duration>", "lifetime, e.g. 30m, 1h, 7d", "1h")
    .action(async (flags: { dataDir?: string; scope?: string; subject: string; space: string[]; ttl: string; join?: boolean; cell?: string; api?: string }) => {
      const { dataDir } = localControl(flags.dataDir ? { dataDir: flags.dataDir } : {}, env);
      if (flags.join) {
        const client = clientFrom({ ...(flags.dataDir ? { dataDir: flags.dataDir } : {}), ...(flags.api ? { api: flags.api } : {}) }, env);
        const res = await client.call<{ token: string }>("POST", "/weft/v1/join-tokens", { ttl: flags.ttl, ...(flags.cell ? { cell_id: flags.cell } : {}) });
        process.stdout.write(res.body.token + "\n");
        return;
      }
      if (!flags.scope) throw new Error("--scope is required (or --join for a cell join token)");
      const key = await loadOrCreateSigningKey(dataDir);
      const jwt = await issueToken(key, {
        scopes: [flags.scope],
        subject: flags.subject,
        spaces: flags.space,
        ttlSeconds: parseDuration(flags.ttl),
      });
      process.stdout.write(jwt + "\n");
    });
  return token;
}
