import { createHmac, timingSafeEqual } from "node:crypto";
import { tokenMatcher } from "../admin/bearer-token";

export const SESSION_COOKIE = "console_session";
/** How long a sign-in lasts. */
export const SESSION_MS = 12 * 60 * 60 * 1000;

/**
 * Console sign-ins: the operator gives the admin token once, in a form; the browser then holds
 * a cookie of an expiry and its HMAC under the token — never the token itself. Every replica
 * with the same ADMIN_TOKEN accepts it, and a new token ends every session.
 */
export class ConsoleSessions {
  /** Constant-time, whatever the candidate's length. */
  readonly isToken: (candidate: string) => boolean;

  constructor(private readonly token: string) {
    this.isToken = tokenMatcher(token);
  }

  issue(now = Date.now()): string {
    const expiresAt = now + SESSION_MS;
    return `${expiresAt}.${this.mac(expiresAt)}`;
  }

  isValid(cookie: string | undefined, now = Date.now()): boolean {
    const match = /^(\d{13,15})\.([A-Za-z0-9_-]{43})$/.exec(cookie ?? "");
    if (!match) return false;
    const expiresAt = Number(match[1]);
    if (expiresAt <= now) return false;
    return timingSafeEqual(Buffer.from(match[2]!), Buffer.from(this.mac(expiresAt)));
  }

  private mac(expiresAt: number): string {
    return createHmac("sha256", this.token).update(`console-session:${expiresAt}`).digest("base64url");
  }
}
