import { lookup } from "node:dns/promises";
import ipaddr from "ipaddr.js";

/** Address ranges a callback must not reach unless CALLBACK_ALLOW_PRIVATE is set. */
const REFUSED_RANGES = new Set([
  "unspecified",
  "loopback",
  "private",
  "linkLocal",
  "uniqueLocal",
  "carrierGradeNat",
  "broadcast",
  "reserved",
  "multicast",
]);

/**
 * Why `url` may not receive a callback, or undefined when it may. Every address the host name
 * resolves to is checked, so a public name pointing at an internal address is refused too.
 */
export async function refusedTarget(url: string, allowPrivate: boolean): Promise<string | undefined> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "not a valid URL";
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return "only http and https callbacks are sent";
  if (allowPrivate) return undefined;
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  let addresses: string[];
  try {
    addresses = ipaddr.isValid(host) ? [host] : (await lookup(host, { all: true })).map((entry) => entry.address);
  } catch (error) {
    throw new Error(`cannot resolve callback host ${host}: ${(error as Error).message}`);
  }
  for (const address of addresses) {
    const parsedAddress = ipaddr.process(address);
    const range = parsedAddress.range();
    if (REFUSED_RANGES.has(range))
      return (
        `callback host ${host} resolves to a ${range} address (${address}); ` +
        "set CALLBACK_ALLOW_PRIVATE=true to allow"
      );
  }
  return undefined;
}
