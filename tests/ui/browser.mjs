// Browser tests for flotilla's web UI, in headless Debian Chromium driven by
// playwright-core. Run by tests/ui/run.sh against a running `flotilla server`
// whose store `flotilla fleet generate` filled; this script adds a run with a
// metric history, a dataset and artifacts through the MLflow REST API, then
// walks the UI like a person would. Screenshots go to $SHOTS.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";

const BASE = process.env.FLOTILLA_URL || "http://127.0.0.1:5000";
const SHOTS = process.env.SHOTS || "target/test-output/ui";
fs.mkdirSync(SHOTS, { recursive: true });

async function api(route, body) {
  const r = await fetch(`${BASE}/api/2.0/mlflow/${route}`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  });
  const text = await r.text();
  assert.equal(r.status, 200, `${route}: ${text}`);
  return JSON.parse(text);
}

/** A run with a 200-step loss curve, a dataset and two artifacts. */
async function seedRun() {
  const { experiment_id } = await api("experiments/create", { name: "browser-test" });
  const { run } = await api("runs/create", { experiment_id, run_name: "train-demand" });
  const id = run.info.run_id;
  const metrics = [];
  for (let s = 0; s < 200; s++) {
    metrics.push({ key: "loss", value: 1 / (1 + s / 10), timestamp: 1_700_000_000_000 + s, step: s });
    metrics.push({ key: "val_rmse", value: 3 - s / 100, timestamp: 1_700_000_000_000 + s, step: s });
  }
  for (let i = 0; i < metrics.length; i += 1000) {
    await api("runs/log-batch", { run_id: id, metrics: metrics.slice(i, i + 1000), params: i ? [] : [{ key: "alpha", value: "0.5" }] });
  }
  await api("runs/log-inputs", { run_id: id, datasets: [{ tags: [{ key: "mlflow.data.context", value: "training" }],
    dataset: { name: "sales-2026", digest: "d41d8cd9", source_type: "local", source: "{}" } }] });
  const root = run.info.artifact_uri.replace("mlflow-artifacts:/", "");
  const files = { "report/summary.txt": "rmse went down\n", "model/MLmodel": "flavors: {}\n" };
  for (const [name, body] of Object.entries(files)) {
    const r = await fetch(`${BASE}/api/2.0/mlflow-artifacts/artifacts/${root}/${name}`, { method: "PUT", body });
    assert.equal(r.status, 200);
  }
  return { id, files };
}

const launch = () => chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});

let passed = 0;
async function step(name, fn) {
  const started = Date.now();
  await fn();
  passed++;
  console.log(`ok ${passed} - ${name} (${Date.now() - started} ms)`);
}

const run = await seedRun();
const browser = await launch();
const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, acceptDownloads: true });
const page = await context.newPage();
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
const shot = (name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

let chosenModel = "";
let championVersion = "";

await step("home page shows the fleet", async () => {
  await page.goto(BASE + "/");
  await assert.doesNotReject(page.getByRole("heading", { name: "Fleet" }).waitFor());
  const stats = await page.locator("dl.stats").innerText();
  assert.match(stats, /models\s+[\d,]+/);
  assert.match(stats, /versions\s+[\d,]+/);
  assert.ok(await page.locator("text=Recent alias changes").isVisible());
  await shot("01-home");
});

await step("search as you type, narrow by a facet, page forward", async () => {
  await page.getByRole("link", { name: "Models", exact: true }).click();
  await page.waitForURL(/\/models$/);
  const box = page.locator("#search input[name=contains]");
  await box.pressSequentially("store=s00", { delay: 30 });
  await page.waitForURL(/contains=store%3Ds00/);
  await page.locator("#results tbody tr").first().waitFor();
  const firstNames = await page.locator("#results tbody tr td:first-child").allInnerTexts();
  assert.ok(firstNames.length > 0 && firstNames.every((n) => n.includes("store=s00")), firstNames.join());
  await shot("02-search-typed");
  // The family facet narrows the search; its count is the new total (a lower bound of it when
  // the facets counted only the first matches, which the page says with a "+").
  const capped = (await page.locator("aside.facets p.total strong").innerText()).endsWith("+");
  const facet = page.locator("aside.facets a", { hasText: "demand-forecast" }).first();
  const facetCount = await facet.locator("xpath=following-sibling::span[1]").innerText();
  await facet.click();
  await page.waitForURL(/family=demand-forecast/);
  const total = await page.locator("aside.facets p.total strong").innerText();
  const number = (s) => Number(s.replace(/[,+]/g, ""));
  const names = await page.locator("#results tbody tr td:first-child").allInnerTexts();
  // Facets are counted within a time bound: a count cut short says so with "+" and is a lower
  // bound, never below the rows the page shows (a busy PostgreSQL may cut either count).
  if (capped || total.endsWith("+")) assert.ok(number(total) >= names.length, `${total} >= ${names.length} rows`);
  else assert.equal(total, facetCount);
  assert.ok(names.every((n) => n.startsWith("demand-forecast.")), names.join());
  await shot("03-search-faceted");
  const firstPage = names[0];
  await page.getByRole("link", { name: "Next page ›" }).click();
  await page.waitForURL(/page_token=/);
  const second = await page.locator("#results tbody tr td:first-child").allInnerTexts();
  assert.ok(second.length > 0 && !second.includes(firstPage), "the second page holds other models");
  assert.ok(second[0] > names[names.length - 1], "keyset order continues by name");
  await shot("04-search-page-2");
  // Deep link: the URL alone reproduces the page.
  const again = await context.newPage();
  await again.goto(page.url());
  assert.deepEqual(await again.locator("#results tbody tr td:first-child").allInnerTexts(), second);
  await again.close();
  // Pick a model with a champion.
  const row = page.locator("#results tbody tr", { has: page.locator("a.badge", { hasText: "champion" }) }).first();
  chosenModel = await row.locator("td:first-child").innerText();
  await row.locator("td:first-child a").click();
  await page.waitForURL(/\/models\/demand-forecast/);
});

await step("model page: champion version with metrics and versions plot", async () => {
  await page.getByRole("heading", { name: `Model ${chosenModel}` }).waitFor();
  const championLink = page
    .locator("section:has(h2:text('Aliases')) table tr", { hasText: "champion" })
    .locator("a")
    .first();
  championVersion = (await championLink.innerText()).replace("v", "");
  await championLink.click();
  await page.waitForURL(new RegExp(`#v${championVersion}$`));
  const row = page.locator(`tr#v${championVersion}`);
  assert.match(await row.innerText(), /champion/);
  assert.match(await row.innerText(), /\d\.\d/, "the version's metrics are shown");
  assert.equal(await page.locator("svg.line-chart polyline").count(), 1, "versions over time plotted");
  // The generator trains every store's versions on datasets: the champion's lineage is drawn.
  const graph = page.locator("svg.lineage");
  await graph.waitFor();
  assert.ok(await graph.locator("a[href^='/datasets/']").count() > 0, "a dataset node links to its page");
  const box = await graph.locator("a[href^='/datasets/'] rect").first().boundingBox();
  assert.ok(box && box.width > 50 && box.height > 10, `the dataset node is drawn: ${JSON.stringify(box)}`);
  const trainedOn = await row.locator("td.datasets a").allInnerTexts();
  assert.ok(trainedOn.some((d) => d.startsWith("sales-")), `the version's own data listed: ${trainedOn}`);
  await shot("05-model-champion");
});

await step("compare two versions side by side", async () => {
  const boxes = page.locator("table.versions input[type=checkbox]");
  await boxes.nth(0).check();
  await boxes.nth(1).check();
  await page.getByRole("button", { name: "Compare selected" }).click();
  await page.waitForURL(/compare\?v=\d+&v=\d+/);
  assert.ok(await page.locator("table.compare tr.metric").count() >= 1);
  assert.ok(await page.locator("svg.bars rect.bar").count() >= 2);
  await shot("06-compare");
});

await step("family page: the partition hierarchy with a metric distribution", async () => {
  await page.goto(`${BASE}/models/${encodeURIComponent(chosenModel)}`);
  await page.locator("nav.crumbs a", { hasText: "demand-forecast" }).click();
  await page.waitForURL(/\/families\/demand-forecast$/);
  assert.ok(await page.locator("svg.histogram rect.bar").count() > 5, "distribution of champions plotted");
  await shot("07-family");
  await page.locator("table.partitions tbody tr td:first-child a").first().click();
  await page.waitForURL(/path=region%3D/);
  assert.ok(await page.locator("table.partitions tbody tr").count() > 0, "stores of the region");
  // Sort by the champion metric: values come out ascending.
  await page.locator("table.partitions thead a", { hasText: "champion:val_rmse" }).click();
  await page.waitForURL(/order_by=champion%3Aval_rmse/);
  const values = (await page.locator("table.partitions tbody tr td:nth-child(5)").allInnerTexts())
    .filter((v) => v !== "–").map(Number);
  assert.deepEqual(values, [...values].sort((a, b) => a - b));
  await shot("08-family-region");
});

await step("keyboard: / focuses search, j and Enter open a row", async () => {
  await page.goto(BASE + "/models?family=churn");
  await page.locator("body").click({ position: { x: 5, y: 300 } });
  await page.keyboard.press("/");
  assert.equal(await page.evaluate(() => document.activeElement.name), "contains");
  await page.keyboard.press("Escape");
  await page.keyboard.press("j");
  await page.keyboard.press("j");
  const selected = await page.locator("tr.selected td:first-child").innerText();
  await page.keyboard.press("Enter");
  await page.waitForURL((url) => decodeURIComponent(url.pathname) === `/models/${selected}`);
});

await step("run page: metric history plotted, dataset listed", async () => {
  await page.goto(`${BASE}/runs/${run.id}`);
  const loss = page.locator("figure[data-metric=loss] svg polyline");
  await loss.waitFor();
  const points = (await loss.getAttribute("points")).trim().split(" ");
  assert.equal(points.length, 200, "every logged step plotted");
  assert.ok(await page.locator("figure[data-metric=val_rmse] svg").count() === 1);
  assert.match(await page.locator("body").innerText(), /sales-2026/);
  await shot("09-run");
});

await step("datasets: the list, a dataset's profile plotted and what it trained", async () => {
  // A profile for the run's dataset, made by the server from a CSV upload.
  let csv = "price,region\n";
  for (let i = 0; i < 500; i++) csv += `${i % 7 ? i / 10 : ""},${["north", "south", "east"][i % 3]}\n`;
  const r = await fetch(`${BASE}/api/data/v1/datasets/sales-2026/d41d8cd9/profile`, {
    method: "POST", headers: { "content-type": "text/csv" }, body: csv,
  });
  assert.equal(r.status, 200, await r.text());
  await page.getByRole("link", { name: "Datasets", exact: true }).click();
  await page.waitForURL(/\/datasets$/);
  await page.locator("table.datasets a", { hasText: "sales-2026" }).first().click();
  await page.waitForURL(/\/datasets\/sales-2026\/d41d8cd9$/);
  const text = await page.locator("body").innerText();
  assert.match(text, /500 rows, 2 features/);
  assert.equal(await page.locator("table.features tbody tr").count(), 2);
  assert.ok(await page.locator("figure.feature svg").count() >= 2, "a CDF and a bar chart");
  assert.match(text, /Trained on it/);
  await shot("09b-dataset");
  await page.goBack();
  await page.goto(`${BASE}/runs/${run.id}`);
});

await step("artifact browser: a file downloads as an attachment", async () => {
  await page.locator("#artifacts a", { hasText: "report/" }).click();
  await page.waitForURL(/path=report/);
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.locator("#artifacts a", { hasText: "summary.txt" }).click(),
  ]);
  assert.equal(download.suggestedFilename(), "summary.txt");
  const saved = path.join(SHOTS, "downloaded-summary.txt");
  await download.saveAs(saved);
  assert.equal(fs.readFileSync(saved, "utf8"), run.files["report/summary.txt"]);
  await shot("10-artifacts");
});

await step("audit log", async () => {
  await page.getByRole("link", { name: "Audit log" }).click();
  await page.waitForURL(/\/audit$/);
  assert.ok(await page.locator("table.audit tbody tr").count() > 0);
  await shot("11-audit");
});

await step("navigation works without JavaScript", async () => {
  const plain = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1366, height: 900 } });
  const p = await plain.newPage();
  await p.goto(BASE + "/models");
  await p.locator("#search input[name=contains]").fill("store=s000");
  await p.locator("#search button[type=submit]").click();
  await p.waitForURL(/contains=store%3Ds000/);
  const names = await p.locator("#results tbody tr td:first-child").allInnerTexts();
  assert.ok(names.length > 0 && names.every((n) => n.includes("store=s000")), `${p.url()} ${names.join()}`);
  const family = p.locator("aside.facets h3:text('Family') + ul a").first();
  const chosen = await family.innerText();
  await family.click();
  await p.waitForURL(new RegExp(`family=${chosen}`));
  const narrowed = await p.locator("#results tbody tr td:first-child").allInnerTexts();
  assert.ok(narrowed.length > 0 && narrowed.every((n) => n.startsWith(`${chosen}.`)), narrowed.join());
  await p.screenshot({ path: path.join(SHOTS, "12-no-javascript.png"), fullPage: true });
  await plain.close();
});

assert.deepEqual(errors, [], "no script errors in the pages");
await browser.close();
console.log(`${passed} browser steps passed; screenshots in ${SHOTS}`);
