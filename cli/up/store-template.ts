// A fresh embedded store (PGlite) costs an initdb: 5-20 s on a small busy machine, most of what
// `weft up` waits for. An initdb'ed, empty data directory is the same every time for one PGlite
// version, so the first `weft up` makes one in node_modules/.cache/weft/ and every later one copies
// it into control's data dir (about 1 s). The copy holds no data: control still runs its migrations
// and makes its own CA and keys.
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { packageRoot } from "../../common/package-root.js";

function pgliteVersion(): string {
  // The package's exports hide its package.json: find it from its entry point.
  let dir = dirname(createRequire(import.meta.url).resolve("@electric-sql/pglite"));
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version;
}

export function storeTemplateDir(): string {
  return join(packageRoot(), "node_modules", ".cache", "weft", `pglite-${pgliteVersion()}-empty`);
}

/** Puts an empty initdb'ed store at `target` (control's DATA_DIR/store); true if it was copied. */
export async function seedEmbeddedStore(target: string): Promise<{ copied: boolean }> {
  if (existsSync(target)) return { copied: false };
  const template = storeTemplateDir();
  let made = false;
  if (!existsSync(join(template, "PG_VERSION"))) {
    const tmp = `${template}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(dirname(tmp), { recursive: true });
    const db = await PGlite.create({ dataDir: tmp });
    await db.query("SELECT 1");
    await db.close();
    try {
      renameSync(tmp, template);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another run made it first
    }
    made = true;
  }
  mkdirSync(dirname(target), { recursive: true });
  cpSync(template, target, { recursive: true });
  return { copied: !made };
}
