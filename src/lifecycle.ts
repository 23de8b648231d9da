/**
 * A part of the running service with a start and a stop: Redis, the broker, the publisher, the
 * workers, the HTTP listener. The service is an ordered list of them, started in order and
 * stopped in reverse, so the same list serves a start-up that fails halfway (only what started
 * is stopped) and a graceful shutdown.
 */
export interface Component {
  /** Named in the log when its stop fails. */
  name: string;
  start(): Promise<void> | void;
  /**
   * Stop taking new work (refuse orders, cancel consumers) and nothing more. Shutdown drains
   * every component before it stops the first one, so work still running anywhere can finish
   * while nothing new comes in.
   */
  drain?(): Promise<void> | void;
  stop(): Promise<void> | void;
}

/** The components that started, stopped in reverse order by `stop` (once, however often called). */
export interface Started {
  stop(): Promise<void>;
}

/**
 * Starts `components` one after the other. When one fails, those already started are stopped
 * in reverse order and its error is rethrown. Stopping drains them all, then stops them in
 * reverse order. A drain or stop that fails is reported to `onStopError` and the others still
 * run: a stuck Redis must not keep the broker connection open.
 */
export async function startInOrder(
  components: readonly Component[],
  onStopError: (component: string, error: unknown) => void,
): Promise<Started> {
  const started: Component[] = [];
  const each = async (step: (component: Component) => Promise<void> | void) => {
    for (const component of [...started].reverse()) {
      await Promise.resolve()
        .then(() => step(component))
        .catch((error: unknown) => onStopError(component.name, error));
    }
  };
  const stopAll = async () => {
    await each((component) => component.drain?.());
    await each((component) => component.stop());
  };
  for (const component of components) {
    try {
      await component.start();
    } catch (error) {
      await stopAll();
      throw error;
    }
    started.push(component);
  }
  let stopping: Promise<void> | undefined;
  return { stop: () => (stopping ??= stopAll()) };
}
