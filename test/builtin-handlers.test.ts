import { expect, test } from "bun:test";
import { handlerNames, OUTPUT_FILE, renderBuiltinHandlers } from "../scripts/generate-builtin-handlers";
import { builtInHandlers } from "../src/runtime/builtin-handlers";

test("the committed builtin-handlers.ts lists exactly the files in handlers/ (run scripts/generate-builtin-handlers.ts)", async () => {
  expect(await Bun.file(OUTPUT_FILE).text()).toBe(renderBuiltinHandlers(handlerNames()));
  expect(Object.keys(builtInHandlers).sort()).toEqual(handlerNames());
  for (const module of Object.values(builtInHandlers)) {
    expect(typeof (module as { default?: unknown }).default).toBe("function");
  }
});

test("handler names become distinct identifiers", () => {
  const source = renderBuiltinHandlers(["send-invoice", "send_invoice", "sendInvoice", "2fa"]);
  expect(source).toContain('import * as sendInvoice from "../../handlers/send-invoice";');
  expect(source).toContain('import * as sendInvoice_ from "../../handlers/send_invoice";');
  expect(source).toContain('import * as sendInvoice__ from "../../handlers/sendInvoice";');
  expect(source).toContain('import * as h2fa from "../../handlers/2fa";');
  expect(source).toContain('  "send_invoice": sendInvoice_,');
});
