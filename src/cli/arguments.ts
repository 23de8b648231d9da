/** What a command takes after its name: how many plain arguments at most, and which flags. */
export interface Accepts {
  positionals: number;
  flags?: readonly string[];
}

/**
 * Why `args` do not fit what a command takes, or undefined when they do. A mistyped flag is
 * an error, not ignored: `healthcheck --readyy` must not quietly check liveness instead.
 */
export function argumentProblem(args: readonly string[], accepts: Accepts): string | undefined {
  const unknownFlag = args.find((arg) => arg.startsWith("-") && !accepts.flags?.includes(arg));
  if (unknownFlag) return `unknown option ${unknownFlag}`;
  const positionals = args.filter((arg) => !arg.startsWith("-"));
  if (positionals.length > accepts.positionals) return `unexpected argument "${positionals[accepts.positionals]}"`;
  return undefined;
}
