// Fleet reports in headless Chromium (run by tests/ui/run.sh on the generated fleet, its own
// server): the /reports form, a fleet, a family, a partition and a tag report with every section rendered
// (one screenshot per section in $SHOTS/reports-*.png), the self-contained document with its
// inline styles applied under the page's CSP and its print layout (a PDF), and bad input
// (an unknown family, an empty period, a period in the future) answered with a clear message;
// then the scheduled report its server makes (run.sh starts it with `--report daily:` and the
// period injected): listed on /reports, its link serving the stored document.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";

const BASE = process.env.FLOTILLA_URL || "http://127.0.0.1:5000";
const SHOTS = process.env.SHOTS || "target/test-output/ui";
fs.mkdirSync(SHOTS, { recursive: true });
const SECTIONS = ["summary", "inventory", "promotions", "quality", "staleness", "serving", "drift", "data", "health"];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
const page = await context.newPage();
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });

let passed = 0;
async function step(name, fn) {
  const started = Date.now();
  await fn();
  passed++;
  console.log(`ok ${passed} - ${name} (${Date.now() - started} ms)`);
}

async function sections(kind) {
  for (const id of SECTIONS) {
    const s = page.locator(`section#${id}`);
    await s.waitFor();
    assert.ok((await s.locator("table").count()) > 0, `${kind} ${id}: a table`);
    await s.screenshot({ path: path.join(SHOTS, `reports-${kind}-${id}.png`) });
  }
}

await step("the form asks for a scope and a period", async () => {
  await page.goto(BASE + "/reports");
  for (const name of ["family", "partition", "tag", "from", "to", "last", "compare_to"]) {
    assert.equal(await page.locator(`input[name=${name}]`).count(), 1, name);
  }
  await page.screenshot({ path: path.join(SHOTS, "reports-form.png"), fullPage: true });
});

let family = "";
await step("a fleet report shows every section, and its link reproduces it", async () => {
  await page.fill("input[name=last]", "400d");
  await page.click("button[type=submit]");
  await sections("fleet");
  family = (await page.locator("#table-inventory_families tbody tr td").first().textContent()).trim();
  assert.ok(family, "a family is listed");
  const link = await page.getAttribute("text=Link to this report", "href");
  assert.equal(link, "/reports?last=400d");
  // The inline stylesheet applies under the page's CSP: the summary table has its borders.
  const border = await page.locator("#table-summary td").first().evaluate((e) => getComputedStyle(e).borderTopStyle);
  assert.equal(border, "solid");
});

await step("the new sections draw their plots over tables", async () => {
  // Staleness and data have a table per family; the drift heatmap draws when any family failed.
  for (const id of ["staleness", "serving", "drift", "data"]) {
    const text = await page.locator(`section#${id}`).textContent();
    assert.ok(!text.includes("Not shown"), `${id} is shown to a reader of everything`);
  }
  assert.ok((await page.locator("#table-staleness_families tbody tr").count()) > 0, "staleness per family");
  assert.ok((await page.locator("section#staleness svg.chart").count()) > 0, "the staleness plot");
  // The generated fleet has no telemetry: the cache is said to be unused, its columns are there.
  assert.ok((await page.locator("section#serving").textContent()).includes("No request went through the model cache"));
  for (const column of ["cache_hit_rate", "model_memory_peak_mib"]) {
    assert.equal(await page.locator(`#table-serving_cache th:text-is("${column}")`).count(), 1, column);
  }
  assert.ok((await page.locator("#table-quality_regressions").count()) === 1, "regressions table");
});

await step("a family report covers that family only", async () => {
  await page.goto(`${BASE}/reports?family=${encodeURIComponent(family)}&last=400d`);
  await sections("family");
  const rows = await page.locator("#table-inventory_families tbody tr").count();
  assert.equal(rows, 1);
});

await step("a partition report and a tag report cover their scope", async () => {
  for (const [kind, query, scope] of [
    ["partition", `family=${encodeURIComponent(family)}&partition=region=r000&last=400d`, "partition region=r000"],
    ["tag", `tag=flotilla.family=${encodeURIComponent(family)}&last=400d`, `models tagged flotilla.family=${family}`],
  ]) {
    const r = await page.goto(`${BASE}/reports?${query}`);
    assert.equal(r.status(), 200, query);
    await sections(kind);
    assert.ok((await page.textContent("main")).includes(scope), `${kind}: the scope is stated`);
  }
});

await step("the document is self-contained and prints a section per page", async () => {
  const r = await page.goto(`${BASE}/reports/document?family=${encodeURIComponent(family)}&last=400d`);
  assert.equal(r.status(), 200);
  const html = await r.text();
  assert.ok(!html.includes("<script") && !html.includes("/static/"), "no script or external asset");
  assert.ok(html.length < 2 << 20);
  await page.screenshot({ path: path.join(SHOTS, "reports-document.png"), fullPage: true });
  await page.emulateMedia({ media: "print" });
  const breaks = await page.locator("section#inventory").evaluate((e) => getComputedStyle(e).breakBefore);
  assert.equal(breaks, "page");
  await page.pdf({ path: path.join(SHOTS, "reports-document.pdf") });
  await page.emulateMedia({ media: "screen" });
});

await step("bad input is a clear message, not an empty report", async () => {
  for (const [query, status, says] of [
    ["family=nope", 404, "nope"],
    ["from=2025-01-08&to=2025-01-08", 400, "empty"],
    ["from=2999-01-01", 400, "future"],
  ]) {
    const r = await page.goto(`${BASE}/reports?${query}`);
    assert.equal(r.status(), status, query);
    assert.ok((await page.textContent("main")).includes(says), query);
    assert.equal(await page.locator("section#inventory").count(), 0, query);
  }
  await page.screenshot({ path: path.join(SHOTS, "reports-bad-input.png"), fullPage: true });
});

await step("a scheduled report is listed and its link serves the stored document", async () => {
  let link = null;
  for (let i = 0; i < 60 && !link; i++) {
    await page.goto(BASE + "/reports");
    const a = page.locator("#scheduled-reports a");
    if ((await a.count()) > 0) link = await a.first().getAttribute("href");
    else await page.waitForTimeout(500);
  }
  assert.ok(link && link.startsWith("/reports/scheduled/"), "a scheduled report is listed");
  await page.locator("#scheduled-reports").screenshot({ path: path.join(SHOTS, "reports-scheduled-list.png") });
  const r = await page.goto(BASE + link);
  assert.equal(r.status(), 200);
  assert.ok((r.headers()["content-security-policy"] || "").includes("sandbox"));
  await page.locator("section#inventory").waitFor();
  await page.screenshot({ path: path.join(SHOTS, "reports-scheduled-document.png") });
});

assert.deepEqual(errors.filter((e) => !e.includes("status of 40")), [], "no script errors in the pages");
await browser.close();
console.log(`${passed} report steps passed; screenshots in ${SHOTS}`);
