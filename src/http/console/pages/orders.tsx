import { ORDER_STATUSES, type OrderResource, TERMINAL_STATUSES } from "../../../domain/order";
import { age, Layout } from "./layout";

export interface OrdersView {
  items: OrderResource[];
  status?: string;
  search?: string;
  nextCursor?: string;
  notice?: string;
}

/** Orders newest first, filtered by status, searched by order id or customerId. */
export function OrdersPage(props: OrdersView) {
  const query = (extra: Record<string, string>) =>
    new URLSearchParams({
      ...(props.status ? { status: props.status } : {}),
      ...(props.search ? { q: props.search } : {}),
      ...extra,
    }).toString();
  return (
    <Layout title="Orders" section="Orders">
      <form method="get" action="/console/orders" class="filters">
        <label>
          Status
          <select name="status">
            <option value="">any</option>
            {ORDER_STATUSES.map((status) => (
              <option value={status} selected={status === props.status}>
                {status}
              </option>
            ))}
          </select>
        </label>
        <label>
          Search
          <input type="search" name="q" value={props.search ?? ""} placeholder="order id or customerId" />
        </label>
        <button type="submit">Apply</button>
      </form>
      {props.notice && <p role="status">{props.notice}</p>}
      <table aria-label="Orders">
        <thead>
          <tr>
            <th>Order</th>
            <th>Customer</th>
            <th>Status</th>
            <th>Attempts</th>
            <th>Total</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {props.items.map((order) => (
            <tr>
              <td>
                <a href={`/console/orders/${order.id}`}>{order.id}</a>
              </td>
              <td>{order.customerId}</td>
              <td>{order.status}</td>
              <td class="number">{order.attempts}</td>
              <td class="number">
                {order.total} {order.currency}
              </td>
              <td title={order.createdAt}>{age(order.createdAt)} ago</td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.items.length === 0 && <p class="muted">No orders match.</p>}
      {props.nextCursor && <a href={`/console/orders?${query({ cursor: props.nextCursor })}`}>Older orders</a>}
    </Layout>
  );
}

/** One order: its fields, its history as a timeline, and Cancel while it is open. */
export function OrderPage(props: { order: OrderResource; notice?: string }) {
  const { order, notice } = props;
  const open = !(TERMINAL_STATUSES as readonly string[]).includes(order.status);
  return (
    <Layout title={`Order ${order.id}`} section="Orders">
      {notice && <p role="status">{notice}</p>}
      <table aria-label="Order">
        <tbody>
          <Row name="Status" value={order.cancelRequested ? `${order.status} (cancel requested)` : order.status} />
          <Row name="Customer" value={order.customerId} />
          <Row name="Total" value={`${order.total} ${order.currency}`} />
          <Row name="Attempts" value={String(order.attempts)} />
          <Row name="Created" value={order.createdAt} />
          <Row name="Updated" value={order.updatedAt} />
          {order.nextRetryAt && <Row name="Next retry" value={order.nextRetryAt} />}
          {order.error && (
            <Row name="Error" value={`${order.error.message}${order.error.permanent ? " (permanent)" : ""}`} />
          )}
          {order.callback && (
            <Row name="Callback" value={`${order.callback.status}, ${order.callback.attempts} attempts`} />
          )}
        </tbody>
      </table>
      {open && (
        <form method="post" action={`/console/orders/${order.id}/cancel`}>
          <button type="submit">Cancel</button>
        </form>
      )}
      <h2>History</h2>
      <ol class="timeline" aria-label="History">
        {order.history.map((entry) => (
          <li>
            <strong>{entry.status}</strong> <time datetime={entry.at}>{entry.at}</time>
            {entry.detail && <span class="muted"> — {entry.detail}</span>}
          </li>
        ))}
      </ol>
      {order.result !== undefined && (
        <>
          <h2>Result</h2>
          <pre>{JSON.stringify(order.result, null, 2)}</pre>
        </>
      )}
      <h2>Items</h2>
      <pre>{JSON.stringify(order.items, null, 2)}</pre>
    </Layout>
  );
}

function Row(props: { name: string; value: string }) {
  return (
    <tr>
      <th scope="row">{props.name}</th>
      <td>{props.value}</td>
    </tr>
  );
}
