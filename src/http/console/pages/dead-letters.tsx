import { DEAD_LETTER_REASONS } from "../../../runtime/dead-letter-reason";
import type { DeadLetter } from "../../../store/dead-letter-store";
import { age, Layout } from "./layout";

export interface DeadLetterFilterView {
  reason?: string;
  subscription?: string;
}

/** The filter as a query string, for links and for coming back to the same view after an action. */
export function filterQuery(filter: DeadLetterFilterView): string {
  const params = new URLSearchParams();
  if (filter.reason) params.set("reason", filter.reason);
  if (filter.subscription) params.set("subscription", filter.subscription);
  const query = params.toString();
  return query ? `?${query}` : "";
}

/** Dead letters, filtered by reason and subscription, each with Replay and Delete. */
export function DeadLettersPage(props: {
  items: DeadLetter[];
  filter: DeadLetterFilterView;
  subscriptions: string[];
  notice?: string;
  more: boolean;
}) {
  const { items, filter, notice } = props;
  return (
    <Layout title="Dead letters" section="Dead letters">
      <form method="get" action="/console/dead-letters" class="filters">
        <label>
          Reason
          <select name="reason">
            <option value="">any</option>
            {DEAD_LETTER_REASONS.map((reason) => (
              <option value={reason} selected={reason === filter.reason}>
                {reason}
              </option>
            ))}
          </select>
        </label>
        <label>
          Subscription
          <select name="subscription">
            <option value="">any</option>
            {props.subscriptions.map((subscription) => (
              <option value={subscription} selected={subscription === filter.subscription}>
                {subscription}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Apply</button>
      </form>
      {notice && <p role="status">{notice}</p>}
      <table aria-label="Dead letters">
        <thead>
          <tr>
            <th>Order</th>
            <th>Reason</th>
            <th>Subscription</th>
            <th>Attempts</th>
            <th>Error</th>
            <th>Age</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {items.map((entry) => (
            <tr data-dead-letter={entry.id}>
              <td>
                {entry.orderId ? <a href={`/console/orders/${entry.orderId}`}>{entry.orderId}</a> : entry.messageId}
              </td>
              <td>{entry.reason}</td>
              <td>{entry.subscription}</td>
              <td class="number">{entry.attempts}</td>
              <td>{entry.error}</td>
              <td title={entry.deadLetteredAt}>{age(entry.deadLetteredAt)}</td>
              <td>
                <ActionButton id={entry.id} action="replay" label="Replay" filter={filter} />{" "}
                <ActionButton id={entry.id} action="delete" label="Delete" filter={filter} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {items.length === 0 ? (
        <p class="muted">No dead letters match.</p>
      ) : (
        <form method="get" action="/console/dead-letters/replay-all">
          <FilterFields filter={filter} />
          <button type="submit">Replay all</button>
          {props.more && <span class="muted"> (more match than are shown here)</span>}
        </form>
      )}
    </Layout>
  );
}

/** "Replay all" asks first, naming how many dead letters the filter matches. */
export function ReplayAllConfirmation(props: { count: number; filter: DeadLetterFilterView }) {
  const { count, filter } = props;
  const what = [
    filter.reason && `reason ${filter.reason}`,
    filter.subscription && `subscription ${filter.subscription}`,
  ]
    .filter(Boolean)
    .join(", ");
  return (
    <Layout title="Replay all" section="Dead letters">
      <p>
        Replay {count} dead letter{count === 1 ? "" : "s"}
        {what ? ` matching ${what}` : ""} to the queues they came from, with fresh attempts?
      </p>
      <form method="post" action="/console/dead-letters/replay-all">
        <FilterFields filter={filter} />
        <button type="submit">Confirm replay all</button>{" "}
        <a href={`/console/dead-letters${filterQuery(filter)}`}>Back</a>
      </form>
    </Layout>
  );
}

function ActionButton(props: { id: string; action: "replay" | "delete"; label: string; filter: DeadLetterFilterView }) {
  return (
    <form method="post" action={`/console/dead-letters/${props.id}/${props.action}`} class="inline">
      <FilterFields filter={props.filter} />
      <button type="submit">{props.label}</button>
    </form>
  );
}

function FilterFields(props: { filter: DeadLetterFilterView }) {
  return (
    <>
      {props.filter.reason && <input type="hidden" name="reason" value={props.filter.reason} />}
      {props.filter.subscription && <input type="hidden" name="subscription" value={props.filter.subscription} />}
    </>
  );
}
