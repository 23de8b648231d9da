import { z } from "zod";

/** The order schema the peer services validate with: the same rules as the service's. */
export const peerOrderSchema = z.strictObject({
  customerId: z.string().min(1).max(64),
  items: z
    .array(
      z.strictObject({
        sku: z.string().min(1).max(64),
        quantity: z.number().int().min(1).max(1000),
        unitPrice: z
          .number()
          .min(0)
          .refine((value) => Math.abs(value * 100 - Math.round(value * 100)) < 1e-6),
      }),
    )
    .min(1)
    .max(100),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/)
    .default("USD"),
  callbackUrl: z.url().optional(),
});
