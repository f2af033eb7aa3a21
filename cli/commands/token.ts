// `weft token create`: prints a bearer token signed by a control plane's key (in its data dir).
import { Command, Option } from "commander";
import { SCOPES, issueToken, loadOrCreateSigningKey, parseDuration } from "../../control/auth/tokens.js";
import { DEFAULT_DATA_DIR } from "../context.js";

const collect = (v: string, acc: string[]) => [...acc, v];

export function tokenCommand(): Command {
  const token = new Command("token").description("manage API tokens");
  token
    .command("create")
    .description("print a bearer token signed by this control plane")
    .option("--data-dir <dir>", "the control plane's data dir", DEFAULT_DATA_DIR)
    .addOption(new Option("--scope <scope>", "token scope").choices([...SCOPES]).makeOptionMandatory())
    .option("--subject <name>", "who the token is for", "operator")
    .option("--space <guid>", "a space the holder may act in (repeatable; for network.write)", collect, [])
    .option("--ttl <duration>", "lifetime, e.g. 30m, 1h, 7d", "1h")
    .action(async (flags: { dataDir: string; scope: string; subject: string; space: string[]; ttl: string }) => {
      const key = await loadOrCreateSigningKey(flags.dataDir);
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
