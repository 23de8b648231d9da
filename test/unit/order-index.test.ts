import { expect, test } from "bun:test";
import { oldestKeptId } from "../../src/store/order-store";

test("order ids sort after the trim bound of any earlier time and before that of any later one", () => {
  const now = Date.now();
  const id = Bun.randomUUIDv7("hex", now);
  expect(id > oldestKeptId(now)).toBe(true);
  expect(id > oldestKeptId(now - 7 * 24 * 60 * 60 * 1000)).toBe(true);
  expect(id < oldestKeptId(now + 1)).toBe(true);
  expect(oldestKeptId(0x0123456789ab)).toBe("01234567-89ab");
});
