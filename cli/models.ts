/**
 * `deno task models`: lists the registry's versions, or changes the champion by hand.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { Reporter } from "../engine/stage.ts";
import { describeDecision, promoteVersion, rollbackChampion } from "../registry/champion.ts";
import {
  DEFAULT_REGISTRY,
  listVersions,
  missingChampionError,
  readCurrent,
  readHistory,
} from "../registry/registry.ts";
import { percent } from "../report/format.ts";
import { pathFlag } from "../app/config.ts";
import { type Console, EXIT_CODES_HELP, readFlags } from "./io.ts";
import { permissionsHelp, requireAccess } from "./permissions.ts";

/** The help text of `models`. */
export const MODELS_HELP =
  `Usage: deno task models [list | promote V | rollback | history] [--registry DIR]

  list          (the default) every complete version: test accuracy, date, data fingerprint,
                * for the current one
  promote V     make version V current by hand (recorded in the history)
  rollback      make the champion before the current one current again
  history       every decision, one line each
  --registry DIR  the model registry (default models/)
  --json          print the list or the history as JSON
  --help          this text

${permissionsHelp("models")}
${EXIT_CODES_HELP}`;

/** Runs `models`. */
export async function modelsCommand(args: string[], io: Console): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      registry: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.out(MODELS_HELP);
    return 0;
  }
  const registry = values.registry === undefined
    ? DEFAULT_REGISTRY
    : readFlags(() => pathFlag("registry", values.registry!));
  const reporter: Reporter = { log: (line) => io.err(line) };
  const [sub = "list", ...rest] = positionals;
  const changes = sub === "promote" || sub === "rollback";
  const expect = (count: number, usage: string) => {
    if (rest.length === count) return true;
    io.err(`error: models ${sub} takes ${usage}: got ${rest.join(" ") || "nothing"}`);
    return false;
  };
  // Usage first: a wrong command line is exit 2 whatever the permissions.
  if (sub === "promote" && !expect(1, "one version, e.g. v0002")) return 2;
  requireAccess("models", args, {
    read: [[registry, "--registry"]],
    write: changes ? [[registry, "--registry"]] : [],
  });
  switch (sub) {
    case "list": {
      if (!expect(0, "no arguments")) return 2;
      const versions = await listVersions(registry);
      const current = await readCurrent(registry);
      // Listed first, so the versions to pick from are on screen above the error.
      const missing = current !== null && !versions.some((v) => v.id === current)
        ? missingChampionError(registry, current, "list the models")
        : null;
      if (values.json) {
        io.out(JSON.stringify({ current, versions }));
      } else if (versions.length === 0) {
        io.out(`no versions in registry "${registry}"; run \`deno task retrain\``);
      } else {
        io.out("  version  test acc  created                data");
        for (const v of versions) {
          io.out(
            `${v.id === current ? "*" : " "} ${v.id.padEnd(8)} ${
              percent(v.testAccuracy).padStart(8)
            }  ` +
              `${v.createdAt.replace("T", " ").replace(/\.\d+Z$/, "Z").padEnd(21)}  ` +
              v.dataFingerprint.slice(0, 12),
          );
        }
      }
      if (missing) throw missing;
      return 0;
    }
    case "history": {
      if (!expect(0, "no arguments")) return 2;
      const history = await readHistory(registry);
      for (const entry of history) {
        io.out(values.json ? JSON.stringify(entry) : describeDecision(entry));
      }
      return 0;
    }
    case "promote": {
      if (!expect(1, "one version, e.g. v0002")) return 2;
      const change = await promoteVersion(registry, rest[0], reporter);
      io.out(
        change.entry ? describeDecision(change.entry) : `${change.current} is already current`,
      );
      return 0;
    }
    case "rollback": {
      if (!expect(0, "no arguments")) return 2;
      const change = await rollbackChampion(registry, reporter);
      io.out(describeDecision(change.entry!));
      return 0;
    }
    default:
      io.err(
        `error: the models subcommand must be one of list, promote, rollback, history: got "${sub}"`,
      );
      return 2;
  }
}
