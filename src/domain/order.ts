import { z } from "zod";

/**
 * Decimal places of a number as JSON writes it: the shortest form that reads back as the same
 * number, which is what the client sent (`1.10` arrives as 1.1, `1e-7` has 7).
 */
function decimalPlaces(value: number): number {
  const [mantissa = "", exponent = "0"] = String(value).split("e");
  const fractionDigits = mantissa.split(".")[1]?.length ?? 0;
  return Math.max(0, fractionDigits - Number(exponent));
}

/**
 * C0 and C1 control characters, DEL, and the bidirectional marks and overrides that make an
 * id display as something else (U+061C, U+200E-F, U+202A-E, U+2066-9).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNSAFE_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** A printable identifier: what customerId and sku must be. */
const identifier = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((value) => !UNSAFE_CHARACTERS.test(value), "must not contain control or bidirectional-override characters");

export const orderItemSchema = z
  .strictObject({
    sku: identifier(64),
    quantity: z.number().int().min(1).max(1000),
    unitPrice: z
      .number()
      .min(0)
      .max(1e12)
      .refine((price) => decimalPlaces(price) <= 2, "must have at most 2 decimals")
      // JSON Schema's multipleOf: 0.01 trips many validators on binary floats (19.99 / 0.01 is
      // not an integer there), so the document states the rule in words.
      .meta({ description: "Price per unit, at most 2 decimals" }),
  })
  .meta({ id: "OrderItem" });

export const createOrderSchema = z
  .strictObject({
    customerId: identifier(64),
    items: z.array(orderItemSchema).min(1).max(100),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, "must be 3 upper-case letters")
      .default("USD"),
    callbackUrl: z
      .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
      .max(2048, "must be at most 2048 characters")
      // The protocol check is not expressible as a format: the document spells it as a pattern
      // (schemes are case-insensitive, so `HTTPS://` is accepted too).
      .meta({ pattern: "^[Hh][Tt][Tt][Pp][Ss]?://", description: "http(s) URL that receives the order's outcome" })
      .optional(),
  })
  .meta({
    id: "CreateOrder",
    example: {
      customerId: "c-42",
      items: [{ sku: "SKU-1", quantity: 2, unitPrice: 19.99 }],
      currency: "EUR",
      callbackUrl: "https://shop.example/hooks/orders",
    },
  });

export type CreateOrder = z.infer<typeof createOrderSchema>;
export type OrderItem = z.infer<typeof orderItemSchema>;

export const ORDER_STATUSES = [
  "accepted",
  "processing",
  "retrying",
  "completed",
  "dead_lettered",
  "expired",
  "cancelled",
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];
/** The statuses an order ends in, each reached once (a replay re-opens a dead-lettered order). */
export const TERMINAL_STATUSES = [
  "completed",
  "dead_lettered",
  "expired",
  "cancelled",
] as const satisfies readonly OrderStatus[];
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];

const historyEntrySchema = z.object({
  status: z.string(),
  at: z.string(),
  detail: z.string().optional(),
});

export const orderResourceSchema = z
  .object({
    id: z.string(),
    status: z.enum(ORDER_STATUSES),
    customerId: z.string(),
    items: z.array(orderItemSchema),
    currency: z.string(),
    total: z.number(),
    attempts: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
    history: z.array(historyEntrySchema),
    result: z.unknown().optional(),
    error: z.object({ message: z.string(), permanent: z.boolean() }).optional(),
    nextRetryAt: z.string().optional(),
    callback: z.object({ status: z.string(), attempts: z.number().int() }).optional(),
    /** A cancel arrived while a handler ran: the order ends cancelled if the handler throws. */
    cancelRequested: z.boolean().optional(),
    callbackUrl: z.string().optional(),
  })
  .meta({ id: "Order" });

export type OrderResource = z.infer<typeof orderResourceSchema>;
export type HistoryEntry = z.infer<typeof historyEntrySchema>;

/** Order ids are UUIDs (v7, lower-case): anything else names no order and never reaches Redis. */
export function isOrderId(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id);
}

/** The message published for each accepted order: what a handler receives. */
export interface OrderMessage {
  orderId: string;
  customerId: string;
  items: OrderItem[];
  currency: string;
  total: number;
  callbackUrl?: string;
  createdAt: string;
}

/**
 * What the order subscription checks of a message before running its handler: an order id to
 * track and at least one item. Other fields pass as they are; a message failing this is
 * dead-lettered as invalid content.
 */
export const orderMessageSchema = z.looseObject({
  orderId: z.uuid(),
  items: z.array(z.looseObject({ sku: z.string(), quantity: z.number(), unitPrice: z.number() })).min(1),
});

/**
 * Sums in integer cents so that 0.1 + 0.2 style errors never reach a total. Up to 2^53 cents
 * (~90 trillion) doubles hold every sum exactly and one division rounds it; beyond that the
 * sum is taken in BigInt and rounded once.
 */
export function orderTotal(items: readonly OrderItem[]): number {
  let cents = 0;
  for (const item of items) cents += Math.round(item.unitPrice * 100) * item.quantity;
  if (Number.isSafeInteger(cents)) return cents / 100;
  let exact = 0n;
  for (const item of items) exact += BigInt(Math.round(item.unitPrice * 100)) * BigInt(item.quantity);
  return Number(`${exact / 100n}.${String(exact % 100n).padStart(2, "0")}`);
}
