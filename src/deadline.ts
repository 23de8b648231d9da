/** Deadlines for checks that can hang on a peer that holds its connection open but does not answer. */

/** `check`'s answer, or false when it fails or takes longer than `deadlineMs`. */
export function withDeadline(check: Promise<boolean>, deadlineMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), deadlineMs);
  });
  return Promise.race([check.catch(() => false), late]).finally(() => clearTimeout(timer));
}
