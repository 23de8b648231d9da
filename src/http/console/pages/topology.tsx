import type { Topology } from "../../../broker/topology";
import { Layout } from "./layout";

type Entries = Record<string, Record<string, unknown> | undefined>;

/** The topology as the service expanded it: exchanges, queues, bindings, and what runs per subscription. */
export function TopologyPage(props: { topology: Topology }) {
  const { topology } = props;
  const vhosts = Object.entries(topology.rascal.vhosts);
  return (
    <Layout title="Topology" section="Topology">
      <p class="muted">From {topology.source}, with the pipeline section expanded.</p>
      {vhosts.map(([name, vhost]) => {
        const exchanges = asEntries(vhost.exchanges);
        const queues = asEntries(vhost.queues);
        const bindings = asEntries(vhost.bindings);
        return (
          <section>
            <h2>vhost {name}</h2>
            <h3>Exchanges</h3>
            <table aria-label={`Exchanges of ${name}`}>
              <thead>
                <tr>
                  <th>Exchange</th>
                  <th>Type</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(exchanges).map(([exchange, options]) => (
                  <tr>
                    <td>{exchange}</td>
                    <td>{String(options?.type ?? "topic")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <h3>Queues</h3>
            <table aria-label={`Queues of ${name}`}>
              <thead>
                <tr>
                  <th>Queue</th>
                  <th>Type</th>
                  <th>Arguments</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(queues).map(([queue, options]) => {
                  const args = ((options?.options as Record<string, unknown> | undefined)?.arguments ?? {}) as Record<
                    string,
                    unknown
                  >;
                  const { "x-queue-type": type, ...rest } = args;
                  return (
                    <tr>
                      <td>{queue}</td>
                      <td>{String(type ?? "classic")}</td>
                      <td>
                        <code>{JSON.stringify(rest)}</code>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
            <h3>Bindings</h3>
            <ul aria-label={`Bindings of ${name}`}>
              {Object.keys(bindings).map((binding) => (
                <li>
                  <code>{binding}</code>
                </li>
              ))}
            </ul>
          </section>
        );
      })}
      <h2>Subscriptions</h2>
      <table aria-label="Subscriptions">
        <thead>
          <tr>
            <th>Subscription</th>
            <th>Queue</th>
            <th>Handler</th>
            <th>Retry delays (ms)</th>
            <th>Max attempts</th>
            <th>Timeout</th>
            <th>Concurrency</th>
            <th>Rate limit</th>
          </tr>
        </thead>
        <tbody>
          {topology.handlerSubscriptions.map((plan) => (
            <tr>
              <td>{plan.name}</td>
              <td>{plan.queue}</td>
              <td>{plan.handler}</td>
              <td>{plan.retry.delays.join(", ")}</td>
              <td class="number">{plan.retry.maxAttempts}</td>
              <td>{plan.timeoutMs === undefined ? "none" : `${plan.timeoutMs} ms`}</td>
              <td>{plan.concurrency ? `${plan.concurrency.limit} per ${plan.concurrency.key}` : "none"}</td>
              <td>{plan.rateLimit ? `${plan.rateLimit.perSecond}/s` : "none"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Layout>
  );
}

/** Rascal allows exchanges, queues and bindings as an object or a list of names. */
function asEntries(declared: unknown): Entries {
  if (Array.isArray(declared)) return Object.fromEntries(declared.map((name) => [String(name), undefined]));
  return (declared ?? {}) as Entries;
}
