import { type DeadLetters, deadLetterView, ReplayError } from "../runtime/dead-letters";
import type { DeadLetter } from "../store/dead-letter-store";
import { type Accepts, argumentProblem } from "./arguments";
import type { Output } from "./output";

export const DEAD_LETTERS_USAGE = `order-pipeline dead-letters <command>
  list [--json]     dead letters, oldest first (--json: the admin API's {items} document)
  replay <id>       send one back to the queue it was dead-lettered from, with fresh attempts
  replay-all        replay every dead letter
  delete <id>       delete one
  purge --yes       delete every dead letter`;

const COMMANDS: Record<string, Accepts> = {
  list: { positionals: 0, flags: ["--json"] },
  replay: { positionals: 1 },
  "replay-all": { positionals: 0 },
  delete: { positionals: 1 },
  purge: { positionals: 0, flags: ["--yes"] },
};

/**
 * Exit code 2 with the problem and the usage when `dead-letters <args>` is not a valid command
 * line; undefined when it is. Checked before anything connects.
 */
export function refuseDeadLettersArguments(args: readonly string[], output: Output): number | undefined {
  const [command, ...rest] = args;
  const accepts = command === undefined ? undefined : COMMANDS[command];
  if (!accepts) return usage(output, command ? `unknown command "${command}"` : undefined);
  const problem = argumentProblem(rest, accepts);
  return problem === undefined ? undefined : usage(output, problem);
}

/**
 * `dead-letters …`: the operations of the admin API (/admin/dead-letters), through the same
 * `DeadLetters` object. Returns the exit code: 0 done, 1 not found or refused, 2 usage.
 */
export async function deadLettersCommand(
  args: readonly string[],
  deadLetters: DeadLetters,
  output: Output,
): Promise<number> {
  const [command, argument] = args;
  try {
    switch (command) {
      case "list": {
        const items = await deadLetters.list();
        if (args.includes("--json")) output.out(JSON.stringify({ items: items.map(deadLetterView) }, null, 2));
        else printTable(items, output);
        return 0;
      }
      case "replay": {
        if (!argument) return usage(output, "replay needs a dead-letter id (see dead-letters list)");
        if (await deadLetters.replay(argument)) {
          output.out(`replayed ${argument}`);
          return 0;
        }
        output.err(`no dead letter with id ${argument}`);
        return 1;
      }
      case "replay-all": {
        const { replayed, failed } = await deadLetters.replayAll();
        output.out(`replayed ${replayed}`);
        for (const { id, detail } of failed) output.err(`not replayed ${id}: ${detail}`);
        return failed.length > 0 ? 1 : 0;
      }
      case "delete": {
        if (!argument) return usage(output, "delete needs a dead-letter id (see dead-letters list)");
        // As DELETE /admin/dead-letters/{id}: look the id up first (which also checks its form).
        if ((await deadLetters.get(argument)) && (await deadLetters.remove(argument))) {
          output.out(`deleted ${argument}`);
          return 0;
        }
        output.err(`no dead letter with id ${argument}`);
        return 1;
      }
      case "purge": {
        if (!args.includes("--yes")) return usage(output, "purge deletes every dead letter for good: add --yes");
        output.out(`deleted ${await purge(deadLetters)}`);
        return 0;
      }
      default:
        return usage(output, command ? `unknown command "${command}"` : undefined);
    }
  } catch (error) {
    // A replay the broker did not confirm: the dead letter stays, the operator may try again.
    if (error instanceof ReplayError) {
      output.err(error.message);
      return 1;
    }
    throw error;
  }
}

async function purge(deadLetters: DeadLetters): Promise<number> {
  let deleted = 0;
  // list() returns the oldest page; each page is deleted before the next one is read.
  for (let page = await deadLetters.list(); page.length > 0; page = await deadLetters.list()) {
    for (const entry of page) if (await deadLetters.remove(entry.id)) deleted += 1;
  }
  return deleted;
}

function usage(output: Output, problem?: string): number {
  if (problem) output.err(problem);
  output.err(DEAD_LETTERS_USAGE);
  return 2;
}

/** The fields GET /admin/dead-letters shows (headers stay internal). */

function printTable(items: readonly DeadLetter[], output: Output): void {
  if (items.length === 0) {
    output.out("no dead letters");
    return;
  }
  const rows = items.map((entry) => [
    entry.id,
    entry.deadLetteredAt,
    entry.reason,
    String(entry.attempts),
    entry.queue,
    entry.orderId ?? "-",
    entry.error.replace(/\s+/g, " ").slice(0, 80),
  ]);
  const header = ["ID", "DEAD-LETTERED AT", "REASON", "ATTEMPTS", "QUEUE", "ORDER", "ERROR"];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  for (const row of [header, ...rows])
    output.out(row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join("  "));
}
