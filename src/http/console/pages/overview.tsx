import type { QueueView } from "../../../runtime/queue-overview";
import type { OutcomeSeries } from "../../../store/activity";
import type { Readiness } from "../../create-app";
import { OutcomeChart } from "./chart";
import { Layout } from "./layout";

export interface OverviewData {
  readiness: Readiness;
  queues: QueueView[];
  outcomes: OutcomeSeries;
  subscriptions: string[];
}

/** The part of the Overview that refreshes itself (GET /console/overview/live). */
export function OverviewPanel(props: OverviewData) {
  const { readiness, queues, outcomes, subscriptions } = props;
  return (
    <>
      <section aria-labelledby="readiness">
        <h2 id="readiness">Readiness</h2>
        <p>
          {Object.entries(readiness.checks).map(([check, ok]) => (
            <span class={ok ? "ok" : "error"} style="margin-right: 1.5rem">
              {check}: {ok ? "ok" : "not ok"}
            </span>
          ))}
        </p>
      </section>
      <section aria-labelledby="queues">
        <h2 id="queues">Queues</h2>
        <table aria-label="Queues">
          <thead>
            <tr>
              <th>Queue</th>
              <th>Ready</th>
              <th>Unacknowledged</th>
              <th>Consumers</th>
            </tr>
          </thead>
          <tbody>
            {queues.map((queue) => (
              <tr data-queue={queue.name}>
                <td>{queue.name}</td>
                <td class="number">{queue.messagesReady ?? "?"}</td>
                <td class="number">{queue.messagesUnacknowledged}</td>
                <td class="number">{queue.consumers ?? "?"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="rates">
        <h2 id="rates">Subscriptions</h2>
        {subscriptions.map((subscription) => (
          <OutcomeChart subscription={subscription} series={outcomes} />
        ))}
      </section>
    </>
  );
}

export function OverviewPage(props: OverviewData) {
  return (
    <Layout title="Overview" section="Overview">
      <div data-live="/console/overview/live">
        <OverviewPanel {...props} />
      </div>
    </Layout>
  );
}
