import type { Logger } from "../log";

/** Per-request values set by the app's middleware. */
export type AppEnv = {
  Variables: {
    requestId: string;
    /** Child logger carrying the request id. */
    log: Logger;
    /** True once shutdown began: new orders are refused. */
    draining: boolean;
  };
};
