// Browser test of the monitoring pages (issue 15), in headless Debian Chromium driven by
// playwright-core. Run by tests/ui/run.sh after browser.mjs (no authentication) and after
// login.mjs (`--auth basic`, the first admin's password in $ADMIN_PASSWORD), both on a server
// with `--monitor-window 1s`. It makes real telemetry through the APIs: a version trained on a
// dataset whose profile the server made from a CSV upload, predictions posted in bulk (the
// later half shifted, so drift shows) and their labels, an alert rule whose webhook is a local
// receiver; then it opens /monitor, the model's monitoring page and /alerts and checks what
// they draw. With authentication, a user who may not read the model is refused its page and
// does not see it counted. Screenshots go to $SHOTS.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";

const BASE = process.env.FLOTILLA_URL || "http://127.0.0.1:5000";
const SHOTS = process.env.SHOTS || "target/test-output/ui";
const PASSWORD = process.env.ADMIN_PASSWORD;
const AUTH = PASSWORD ? "Basic " + Buffer.from(`admin:${PASSWORD}`).toString("base64") : null;
const SUFFIX = AUTH ? "auth" : "plain";
const MODEL = `monitored-${SUFFIX}`;
fs.mkdirSync(SHOTS, { recursive: true });

async function call(method, route, body, { type = "application/json", auth = AUTH } = {}) {
  const headers = { "content-type": type };
  if (auth) headers.authorization = auth;
  const r = await fetch(`${BASE}${route}`, {
    method, headers, body: body === undefined ? undefined : (typeof body === "string" ? body : JSON.stringify(body)),
  });
  const text = await r.text();
  assert.equal(r.status, 200, `${method} ${route}: ${text}`);
  return JSON.parse(text);
}
const mlflow = (route, body) => call("POST", `/api/2.0/mlflow/${route}`, body);

/** A local webhook receiver answering 200; what it got. */
function receiver() {
  const got = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => { body += c; });
    req.on("end", () => { got.push({ path: req.url, body }); res.writeHead(200).end(); });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, got, url: `http://127.0.0.1:${server.address().port}/hook` })));
}

async function until(what, ms, fn) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    assert.ok(Date.now() < deadline, `${what} never happened`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const uniform = (i, n) => (i + 0.5) / n;
const row = (i, n, shift, t) => ({
  id: `${SUFFIX}-${t}-${i}`, timestamp: t, x0: uniform(i, n) + shift, x1: ["a", "b", "c"][i % 3], prediction: uniform(i, n),
});

/** The model, its training data's profile, predictions over the last ten minutes and labels. */
async function seed(hook) {
  const dataset = `mon-train-${SUFFIX}`;
  let csv = "x0,x1,prediction\n";
  for (let i = 0; i < 2000; i++) csv += `${uniform(i, 2000)},${["a", "b", "c"][i % 3]},${uniform(i, 2000)}\n`;
  const { experiment_id } = await mlflow("experiments/create", { name: `monitor-${SUFFIX}` });
  const { run } = await mlflow("runs/create", { experiment_id });
  await mlflow("runs/log-inputs", { run_id: run.info.run_id, datasets: [{ tags: [{ key: "mlflow.data.context", value: "training" }],
    dataset: { name: dataset, digest: "m1", source_type: "local", source: "{}" } }] });
  await call("POST", `/api/data/v1/datasets/${dataset}/m1/profile`, csv, { type: "text/csv" });
  await mlflow("registered-models/create", { name: MODEL });
  await mlflow("model-versions/create", { name: MODEL, source: `${run.info.artifact_uri}/model`, run_id: run.info.run_id });
  await call("POST", "/api/monitor/v1/alerts/rules", { name: `drift-${SUFFIX}`, scope: "model", model: MODEL,
    check: "data_drift", status: "fail", windows: 1, webhook_url: hook, secret: "s3cret" });
  // Ten minutes of traffic: as trained for five, then x0 shifted by half its range.
  const now = Date.now();
  const lines = [];
  for (let m = 10; m >= 1; m--) {
    const t = now - m * 60_000;
    for (let i = 0; i < 120; i++) lines.push(row(i, 120, m > 5 ? 0 : 0.5, t));
  }
  const route = `/api/monitor/v1/models/${MODEL}/versions/1/predictions`;
  const posted = await call("POST", route, lines.map((l) => JSON.stringify(l)).join("\n"), { type: "application/x-ndjson" });
  assert.equal(posted.rows, lines.length, JSON.stringify(posted));
  const labels = lines.filter((_, i) => i % 2 === 0).map((l) => ({ id: l.id, label: l.prediction + 0.1 }));
  await call("POST", `/api/monitor/v1/models/${MODEL}/versions/1/labels`, labels.map((l) => JSON.stringify(l)).join("\n"),
    { type: "application/x-ndjson" });
  // A drifted batch now: the window it lands in closes within a second and the health job judges it.
  const recent = [];
  for (let i = 0; i < 300; i++) recent.push({ ...row(i, 300, 0.5, Date.now()), id: undefined, timestamp: undefined });
  await call("POST", route, recent.map((l) => JSON.stringify(l)).join("\n"), { type: "application/x-ndjson" });
  await until("the model in the health roll-up", 20_000, async () => {
    const h = await call("GET", `/api/monitor/v1/health`);
    return h.worst.some((w) => w.model === MODEL && w.checks.data_drift?.status === "fail");
  });
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 1366, height: 900 },
  extraHTTPHeaders: AUTH ? { authorization: AUTH } : {} });
const page = await context.newPage();
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
const shot = (name) => page.screenshot({ path: path.join(SHOTS, `monitor-${SUFFIX}-${name}.png`), fullPage: true });

let passed = 0;
async function step(name, fn) {
  const started = Date.now();
  await fn();
  passed++;
  console.log(`ok ${passed} - ${name} (${Date.now() - started} ms)`);
}

const hook = await receiver();
await step("telemetry made through the APIs reaches the health roll-up", () => seed(hook.url));

await step("fleet health: the matrix, the worst models and the link to a model", async () => {
  await page.goto(BASE + "/");
  await page.getByRole("link", { name: "Health", exact: true }).click();
  await page.waitForURL(/\/monitor$/);
  await page.getByRole("heading", { name: "Fleet health" }).waitFor();
  const header = await page.locator("table.health-matrix thead th").allInnerTexts();
  for (const c of ["traffic", "error rate", "data drift", "baseline"]) assert.ok(header.includes(c), header.join());
  const fleetRow = await page.locator("table.health-matrix tr.scope-row").innerText();
  assert.match(fleetRow, /\d+ fail/, fleetRow);
  const row = page.locator("table.worst tbody tr", { hasText: MODEL });
  assert.equal(await row.count(), 1, "the drifted model is among the worst");
  assert.match(await row.locator("td.s-fail").first().innerText(), /fail/);
  await shot("1-health");
  await row.getByRole("link", { name: "monitor", exact: true }).click();
  await page.waitForURL(new RegExp(`/models/${MODEL}/monitor$`));
});

await step("a model's monitoring page: traffic, errors, latency, performance, drift", async () => {
  await page.getByRole("heading", { name: `Monitoring ${MODEL} v1` }).waitFor();
  for (const section of ["traffic", "errors", "performance"]) {
    const points = await page.locator(`section.${section} svg polyline`).first().getAttribute("points");
    assert.ok(points && points.trim().split(" ").length >= 2, `${section} is drawn: ${points}`);
  }
  assert.match(await page.locator("section.latency").innerText(), /No timed requests|p50/);
  assert.ok(await page.locator("details.windows table tbody tr").count() >= 10, "one table row per window");
  const drift = await page.locator("section.drift").innerText();
  assert.match(drift, /Against the training profile/);
  assert.match(drift, /data drift: drift/, drift);
  const x0 = page.locator("table.drift-features tbody tr", { hasText: "x0" });
  assert.match(await x0.innerText(), /wasserstein.*drift/s);
  // Drift over time: the early slices as trained, the late ones drifted.
  const cells = await page.locator("table.drift-heatmap tbody tr", { hasText: "x0" }).locator("td").evaluateAll(
    (tds) => tds.map((td) => td.className));
  assert.ok(cells.includes("num s-ok") && cells.includes("num s-fail"), cells.join());
  // The chosen feature's distribution: reference and current bars with heights.
  const bars = await page.locator("#distribution svg rect.current").evaluateAll((rs) => rs.map((r) => Number(r.getAttribute("height"))));
  assert.ok(bars.length >= 5 && bars.some((h) => h > 0), bars.join());
  assert.ok(await page.locator("#distribution svg rect.reference").count() === bars.length);
  await shot("2-model");
  await page.locator("table.drift-features a", { hasText: "x1" }).click();
  await page.waitForURL(/feature=x1/);
  assert.match(await page.locator("#distribution h3").innerText(), /x1/);
  assert.deepEqual(await page.locator("#distribution table tbody tr td:first-child").allTextContents(), ["a", "b", "c"]);
  await shot("3-feature");
});

await step("the model page links to its monitoring", async () => {
  await page.goto(`${BASE}/models/${MODEL}`);
  await page.locator("a.monitor-link").click();
  await page.waitForURL(new RegExp(`/models/${MODEL}/monitor$`));
});

await step("alerts: the rule and its delivery to the local receiver", async () => {
  await until("the alert delivered", 20_000, () => hook.got.some((g) => g.body.includes(MODEL)));
  await page.getByRole("link", { name: "Alerts", exact: true }).click();
  await page.waitForURL(/\/alerts$/);
  const rule = await page.locator("table.rules tbody tr", { hasText: `drift-${SUFFIX}` }).innerText();
  assert.match(rule, new RegExp(`model ${MODEL}.*data drift.*fail`, "s"));
  await until("the delivery listed", 10_000, async () => {
    await page.reload();
    return (await page.locator("table.deliveries tbody tr", { hasText: MODEL }).count()) > 0;
  });
  assert.match(await page.locator("table.deliveries tbody tr", { hasText: MODEL }).first().innerText(), /delivered.*200/s);
  await shot("4-alerts");
});

await step("empty states: a model with no telemetry and no reference", async () => {
  const bare = `bare-${SUFFIX}`;
  await mlflow("registered-models/create", { name: bare });
  await page.goto(`${BASE}/models/${bare}/monitor`);
  assert.match(await page.locator("p.empty").first().innerText(), /no versions/);
  await mlflow("model-versions/create", { name: bare, source: "mlflow-artifacts:/bare/model" });
  await page.reload();
  const text = await page.locator("main").innerText();
  assert.match(text, /No traffic in this period/);
  assert.match(text, /No training profile: set a baseline/);
  await shot("5-empty");
});

if (AUTH) {
  await step("a user who may not read the model neither opens its page nor sees it", async () => {
    const password = "viewer-password-1";
    await call("POST", "/api/2.0/mlflow/users/create", { username: "mon-viewer", password });
    await call("POST", "/api/3.0/mlflow/users/permissions/grant", { username: "mon-viewer",
      resource_type: "registered_model", resource_id: MODEL, permission: "NO_PERMISSIONS" });
    const viewer = await browser.newContext({ extraHTTPHeaders: {
      authorization: "Basic " + Buffer.from(`mon-viewer:${password}`).toString("base64") } });
    const p = await viewer.newPage();
    const refused = await p.goto(`${BASE}/models/${MODEL}/monitor`);
    assert.equal(refused.status(), 403);
    const health = await p.goto(`${BASE}/monitor`);
    assert.equal(health.status(), 200);
    assert.equal(await p.locator("table.worst tbody tr", { hasText: MODEL }).count(), 0);
    const alerts = await p.goto(`${BASE}/alerts`);
    assert.equal(alerts.status(), 200);
    assert.equal(await p.locator("table.rules tbody tr", { hasText: `drift-${SUFFIX}` }).count(), 0);
    assert.equal(await p.locator("table.deliveries tbody tr", { hasText: MODEL }).count(), 0);
    await p.screenshot({ path: path.join(SHOTS, `monitor-${SUFFIX}-6-viewer.png`), fullPage: true });
    await viewer.close();
  });
}

assert.deepEqual(errors, [], "no script errors in the pages");
await browser.close();
hook.server.close();
console.log(`${passed} monitoring steps passed; screenshots in ${SHOTS}`);
