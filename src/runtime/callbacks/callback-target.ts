import { lookup } from "node:dns/promises";
import ipaddr from "ipaddr.js";

/** Resolves a host name to its addresses (the system resolver; tests give their own). */
export type Lookup = (host: string) => Promise<string[]>;

export const systemLookup: Lookup = async (host) => (await lookup(host, { all: true })).map((entry) => entry.address);

/** Where a callback goes: its URL, and the one address that was checked, which is what is connected to. */
export interface CallbackTarget {
  url: URL;
  /** The host name without IPv6 brackets, for the TLS server name. */
  host: string;
  address: string;
}

export type TargetDecision = { target: CallbackTarget } | { refused: string };

/**
 * Resolves a callback URL's host once and decides whether it may be called. Only public
 * unicast addresses are allowed unless `allowPrivate`: every address the name resolves to is
 * checked, so a public name pointing at an internal address is refused too. The caller must
 * connect to `target.address`, not to the name: a second lookup could answer otherwise (DNS
 * rebinding). A name that does not resolve throws (a later retry may resolve it).
 */
export async function resolveCallbackTarget(
  url: string,
  options: { allowPrivate: boolean; lookup?: Lookup },
): Promise<TargetDecision> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { refused: "not a valid URL" };
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return { refused: "only http and https callbacks are sent" };
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  let addresses: string[];
  try {
    addresses = ipaddr.isValid(host) ? [host] : await (options.lookup ?? systemLookup)(host);
  } catch (error) {
    throw new Error(`cannot resolve callback host ${host}: ${(error as Error).message}`);
  }
  if (addresses.length === 0) throw new Error(`cannot resolve callback host ${host}: no address`);
  if (!options.allowPrivate) {
    for (const address of addresses) {
      const range = addressRange(address);
      if (range !== "unicast") {
        return {
          refused:
            `callback host ${host} resolves to a ${range} address (${address}); only public unicast ` +
            "addresses are called (set CALLBACK_ALLOW_PRIVATE=true to allow others)",
        };
      }
    }
  }
  return { target: { url: parsed, host, address: addresses[0]! } };
}

/**
 * ipaddr.js's range of an address, IPv4-mapped ones as the IPv4 address they carry. The
 * IPv4-compatible form (`::a.b.c.d`, deprecated) has no range of its own there: it reaches the
 * IPv4 address on some stacks, so it is never treated as unicast.
 */
function addressRange(address: string): string {
  const parsed = ipaddr.process(address);
  if (parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).parts.slice(0, 6).every((part) => part === 0)) {
    return "ipv4Compatible";
  }
  return parsed.range();
}

/**
 * The URL to connect to: the checked address in place of the host name, port, path and query
 * kept. The Host header and the TLS server name carry the name (see `deliver-callback.ts`).
 */
export function connectUrl(target: CallbackTarget): string {
  const address = ipaddr.parse(target.address).kind() === "ipv6" ? `[${target.address}]` : target.address;
  const url = new URL(target.url);
  url.hostname = address;
  return url.toString();
}
