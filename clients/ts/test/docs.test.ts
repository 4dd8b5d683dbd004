// /docs in a real browser (Debian's Chromium, driven by Playwright): the reference renders the
// API's operations from /openapi.json, a "try it" call against the server succeeds, and the
// page loads nothing from any other host.
import assert from "node:assert/strict";
import { test } from "node:test";

import { chromium, type Page } from "playwright-core";

const baseUrl = process.env.PICSHARE_URL ?? "http://127.0.0.1:8080";

interface OpenApi {
  tags: { name: string }[];
  paths: Record<string, Record<string, { tags?: string[]; summary?: string }>>;
}

/** Opens the operation's section, its "Test Request" client, and sends the request. */
async function tryIt(page: Page, tag: string, method: string, path: string): Promise<void> {
  await page.goto(`${baseUrl}/docs#tag/${tag}/${method.toUpperCase()}${path}`);
  const escaped = path.replaceAll("/", "\\/");
  await page
    .getByRole("button", { name: new RegExp(`Test Request\\s*\\(${method} ${escaped}\\)`, "i") })
    .click({ timeout: 20_000 });
  await page
    .getByRole("button", { name: new RegExp(`Send ${method} request to .*${escaped}$`, "i") })
    .click({ timeout: 10_000 });
}

test("the docs page renders the operations and a try-it call succeeds", async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    const page = await browser.newPage();
    const elsewhere: string[] = [];
    const refusedByPolicy: string[] = [];
    page.on("request", (request) => {
      const url = request.url();
      if (!url.startsWith(baseUrl) && !url.startsWith("data:") && !url.startsWith("blob:")) {
        elsewhere.push(url);
      }
    });
    page.on("console", (message) => {
      if (message.type() === "error" && message.text().includes("Content Security Policy")) {
        refusedByPolicy.push(message.text());
      }
    });
    await page.goto(`${baseUrl}/docs`);

    // The reference shows every tag of the served document, and the operations of the first.
    const doc = (await (await fetch(`${baseUrl}/openapi.json`)).json()) as OpenApi;
    const tags = doc.tags.map((tag) => tag.name);
    assert.ok(tags.length > 5, JSON.stringify(tags));
    for (const tag of tags) {
      await page.getByText(tag, { exact: true }).first().waitFor({ timeout: 30_000 });
    }
    const firstTag = tags[0] ?? "";
    const summaries = Object.values(doc.paths)
      .flatMap((operations) => Object.values(operations))
      .filter((operation) => operation.tags?.includes(firstTag) && operation.summary)
      .map((operation) => operation.summary ?? "");
    assert.ok(summaries.length > 0, `operations of ${firstTag}`);
    for (const summary of summaries) {
      await page.getByText(summary, { exact: true }).first().waitFor({ timeout: 10_000 });
    }

    // Try it: the operation's request sent from the page, and the server's answer shown.
    const answered = page.waitForResponse(
      (response) => response.url() === `${baseUrl}/healthz` && response.request().method() === "GET",
      { timeout: 20_000 },
    );
    await tryIt(page, "operations", "get", "/healthz");
    const response = await answered;
    assert.equal(response.status(), 200);
    assert.deepEqual(await response.json(), { status: "ok" });
    await page.getByText("200 OK", { exact: true }).first().waitFor({ timeout: 10_000 });

    assert.deepEqual(elsewhere, [], "requests to other hosts");
    assert.deepEqual(refusedByPolicy, [], "resources the page's policy refused");
  } finally {
    await browser.close();
  }
});
