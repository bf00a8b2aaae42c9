import assert from "node:assert/strict";
import { COMMAND_TABLE, COMMANDS } from "../../cli/commands.ts";
import { EXIT_CODES_HELP } from "../../cli/io.ts";
import { TASK_PERMISSIONS } from "../../cli/permissions.ts";

Deno.test("every command has an entry point, a one-line summary, its own usage line and exit codes", () => {
  for (const [name, entry] of Object.entries(COMMAND_TABLE)) {
    assert.equal(COMMANDS[name], entry.run, name);
    assert.ok(entry.summary.length > 0 && !entry.summary.includes("\n"), name);
    assert.ok(entry.help.includes(`Usage: deno task ${name}`), name);
    assert.ok(entry.help.includes(EXIT_CODES_HELP.trim().split("\n")[0]), name);
  }
});

Deno.test("every command has a task with scoped permissions, and every such task a command", () => {
  assert.deepEqual(Object.keys(COMMANDS).sort(), Object.keys(TASK_PERMISSIONS).sort());
});
