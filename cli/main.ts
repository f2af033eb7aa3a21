// The one `weft` command. This is the CLI's composition root: the environment is read here, once,
// and handed to the commands. Errors become one clear line on stderr and a non-zero exit.
import { Command, CommanderError } from "commander";
import { appCommand } from "./commands/app.js";
import { controlCommand } from "./commands/control.js";
import { dnsCommand } from "./commands/dns.js";
import { policyCommand } from "./commands/policy.js";
import { asgCommand } from "./commands/asg.js";
import { tokenCommand } from "./commands/token.js";
import { statusCommand } from "./commands/status.js";
import { agentCommand } from "./commands/agent.js";
import { routeCommand } from "./commands/route.js";
import { sidecarCommand } from "./commands/sidecar.js";
import { downCommand, upBridgeCommand, upCommand } from "./commands/up.js";
import type { CliEnv } from "./context.js";

const env: CliEnv = Object.freeze({
  ...(process.env.WEFT_API ? { WEFT_API: process.env.WEFT_API } : {}),
  ...(process.env.WEFT_TOKEN ? { WEFT_TOKEN: process.env.WEFT_TOKEN } : {}),
  ...(process.env.WEFT_CA_CERT ? { WEFT_CA_CERT: process.env.WEFT_CA_CERT } : {}),
  ...(process.env.WEFT_DATA_DIR ? { WEFT_DATA_DIR: process.env.WEFT_DATA_DIR } : {}),
  ...(process.env.WEFT_UP_DIR ? { WEFT_UP_DIR: process.env.WEFT_UP_DIR } : {}),
});

const program = new Command("weft")
  .description("Weft: container-to-container networking (overlay, policies, discovery, TLS)")
  .version("0.1.0")
  .showSuggestionAfterError()
  .exitOverride();

program.addCommand(upCommand());
program.addCommand(downCommand());
program.addCommand(upBridgeCommand(), { hidden: true });
program.addCommand(controlCommand());
program.addCommand(dnsCommand());
program.addCommand(sidecarCommand());
program.addCommand(tokenCommand(env));
program.addCommand(statusCommand(env));
program.addCommand(agentCommand());
program.addCommand(routeCommand(env));
program.addCommand(policyCommand(env));
program.addCommand(appCommand(env));
program.addCommand(asgCommand(env));

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
  } else {
    process.stderr.write(`weft: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
