import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { startTestService, type TestService } from "./helpers/service";

// An intake without workers: the accepted test orders are never processed, and no callback is sent.
let service: TestService;
let doc: Record<string, any>;
beforeAll(async () => {
  service = await startTestService({ env: { ROLE: "api" } });
  const response = await service.app.request("/openapi.json");
  expect(response.status).toBe(200);
  doc = (await response.json()) as Record<string, any>;
});
afterAll(async () => {
  await service?.close();
});

const post = (body: unknown) => service.post(body);

/** Follows a local `$ref` (`#/components/...`) of the document. */
function resolve(node: Record<string, any>): Record<string, any> {
  if (typeof node.$ref !== "string") return node;
  return node.$ref
    .slice(2)
    .split("/")
    .reduce((parent: Record<string, any>, key: string) => parent[key.replaceAll("~1", "/").replaceAll("~0", "~")], doc);
}

describe("/openapi.json", () => {
  test("passes redocly lint with the recommended rules (redocly.yaml)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "openapi-lint-"));
    try {
      const file = join(dir, "openapi.json");
      writeFileSync(file, JSON.stringify(doc));
      const root = new URL("..", import.meta.url).pathname;
      const lint = Bun.spawn(
        [join(root, "node_modules/.bin/redocly"), "lint", "--config", join(root, "redocly.yaml"), file],
        {
          cwd: dir,
          env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
          stdout: "pipe",
          stderr: "pipe",
        },
      );
      const [stdout, stderr, code] = await Promise.all([
        new Response(lint.stdout).text(),
        new Response(lint.stderr).text(),
        lint.exited,
      ]);
      expect(`${stdout}${stderr}`).toContain("Your API description is valid");
      expect(code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  test("is a valid OpenAPI 3.1 document covering the order routes", async () => {
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/orders", "/orders/{id}", "/admin/dead-letters"]));
  });

  test("documents the headers clients rely on, problem+json on every error, and the probes", async () => {
    const post = doc.paths["/orders"].post.responses;
    expect(Object.keys(post["202"].headers)).toEqual(
      expect.arrayContaining(["X-Request-Id", "Location", "Idempotent-Replayed"]),
    );
    expect(Object.keys(post["409"].headers)).toContain("Retry-After");
    expect(Object.keys(post["503"].headers)).toContain("Retry-After");
    const unauthorized = doc.paths["/admin/dead-letters"].get.responses["401"];
    expect(Object.keys(unauthorized.content)).toEqual(["application/problem+json"]);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/healthz", "/readyz", "/metrics"]));
  });

  test("/docs serves the interactive reference for it", async () => {
    const response = await service.app.request("/docs");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    expect(await response.text()).toContain("/openapi.json");
  });

  test("the documented example order is accepted", async () => {
    const schema = resolve(doc.paths["/orders"].post.requestBody.content["application/json"].schema);
    expect(schema.example).toBeDefined();
    const response = await post(schema.example);
    expect(response.status).toBe(202);
    expect(resolve(doc.paths["/orders"].post.responses["202"].content["application/json"].schema).required).toContain(
      "status",
    );
  });

  test("the documented schema and the live validation agree", async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ $id: "openapi.json", components: doc.components });
    const ref = doc.paths["/orders"].post.requestBody.content["application/json"].schema.$ref as string;
    const documented = ajv.compile({ $ref: `openapi.json${ref}` });

    const item = { sku: "SKU-1", quantity: 2, unitPrice: 19.99 };
    const order = (patch: Record<string, unknown> = {}) => ({ customerId: "c-1", items: [item], ...patch });
    const candidates: Record<string, unknown> = {
      minimal: order(),
      "every field": order({ currency: "EUR", callbackUrl: "http://shop.example/hook" }),
      "longest ids": order({ customerId: "c".repeat(64), items: [{ ...item, sku: "s".repeat(64) }] }),
      "100 items at the limits": order({
        items: Array.from({ length: 100 }, () => ({ sku: "S", quantity: 1000, unitPrice: 0 })),
      }),
      "unknown field": order({ coupon: "FREE" }),
      "unknown item field": order({ items: [{ ...item, colour: "red" }] }),
      "missing customerId": { items: [item] },
      "empty customerId": order({ customerId: "" }),
      "customerId too long": order({ customerId: "c".repeat(65) }),
      "no items": order({ items: [] }),
      "101 items": order({ items: Array.from({ length: 101 }, () => item) }),
      "empty sku": order({ items: [{ ...item, sku: "" }] }),
      "quantity 0": order({ items: [{ ...item, quantity: 0 }] }),
      "quantity 1001": order({ items: [{ ...item, quantity: 1001 }] }),
      "fractional quantity": order({ items: [{ ...item, quantity: 1.5 }] }),
      "negative price": order({ items: [{ ...item, unitPrice: -1 }] }),
      "price as a string": order({ items: [{ ...item, unitPrice: "19.99" }] }),
      "lower-case currency": order({ currency: "eur" }),
      "callbackUrl not http(s)": order({ callbackUrl: "ftp://shop.example/hook" }),
      "callbackUrl not a URL": order({ callbackUrl: "not a url" }),
    };
    const disagreements: string[] = [];
    for (const [name, body] of Object.entries(candidates)) {
      const status = (await post(body)).status;
      expect([202, 422]).toContain(status);
      if (documented(body) !== (status === 202))
        disagreements.push(
          `${name}: document says ${documented(body) ? "valid" : "invalid"}, service answered ${status}`,
        );
    }
    expect(disagreements).toEqual([]);
  });
});

describe("/docs", () => {
  test("loads only what the service serves: its script from /docs/assets, no font, CDN or telemetry", async () => {
    const response = await service.app.request("/docs");
    expect(response.status).toBe(200);
    const html = await response.text();
    const loaded = [...html.matchAll(/<(?:script|link)[^>]*(?:src|href)="([^"]+)"/g)].map((match) => match[1]);
    expect(loaded).toEqual(["/docs/assets/api-reference.js"]);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).toMatch(/"withDefaultFonts": false/);
    expect(html).toMatch(/"telemetry": false/);
    const script = await service.app.request("/docs/assets/api-reference.js");
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toContain("javascript");
    expect((await script.arrayBuffer()).byteLength).toBeGreaterThan(1_000_000);
  });
});
