/** Small builders for the topology the runtime adds to rascal.json. */

type Json = Record<string, unknown>;

/** The object under `key`, created when missing. */
export function child(parent: Json, key: string): Json {
  const existing = parent[key];
  if (existing && typeof existing === "object" && !Array.isArray(existing)) return existing as Json;
  const created: Json = {};
  parent[key] = created;
  return created;
}

/** A fanout exchange delivering into `queue` (both declared unless rascal.json has them). */
export function fanoutInto(vhostConfig: Json, exchange: string, queue: string): void {
  child(vhostConfig, "exchanges")[exchange] ??= { type: "fanout" };
  child(vhostConfig, "bindings")[`${exchange} -> ${queue}`] ??= {
    source: exchange,
    destination: queue,
    destinationType: "queue",
  };
}

/** A publication whose messages are persistent, confirmed and must be routed. */
export function confirmedPublication(vhost: string, destination: { exchange: string } | { queue: string }): Json {
  return { vhost, ...destination, confirm: true, options: { persistent: true, mandatory: true } };
}
