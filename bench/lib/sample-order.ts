/** The small order every target receives (the same body wrk sends). */
export const SAMPLE_ORDER = {
  customerId: "c-42",
  items: [{ sku: "SKU-1", quantity: 2, unitPrice: 19.99 }],
  currency: "EUR",
};
export const SAMPLE_ORDER_JSON = JSON.stringify(SAMPLE_ORDER);
