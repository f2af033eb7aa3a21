// Finds the package root (the folder with weft's package.json), so that non-code assets such as
// SQL migrations are found the same way from the TypeScript sources and from dist/.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | undefined;

export function packageRoot(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "package.json");
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, "utf8")) as { name?: string };
      if (pkg.name === "weft") return (cached = dir);
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error("weft package root not found");
    dir = parent;
  }
}
