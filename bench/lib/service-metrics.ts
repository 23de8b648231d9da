/** Reads the service's own counters from GET /metrics (the names are part of its contract). */

export interface ServiceCounts {
  accepted: number;
  completed: number;
}

export async function readServiceCounts(baseUrl: string): Promise<ServiceCounts> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  let accepted = 0;
  let completed = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("orders_accepted_total ")) accepted = Number(line.slice(line.lastIndexOf(" ") + 1));
    else if (
      line.startsWith("messages_consumed_total{") &&
      line.includes('subscription="process_order"') &&
      line.includes('outcome="completed"')
    ) {
      completed = Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return { accepted, completed };
}
