// Browser test of the UI's login (`--auth basic`), in headless Debian Chromium driven by
// playwright-core. Run by tests/ui/run.sh against a second `flotilla server` with
// authentication on (the first admin's password in $ADMIN_PASSWORD): a page sends a stranger
// to the login form, a wrong password is refused, the right one lands on the page first asked
// for; the user browses, moves an alias through the page's form (the session's CSRF token in
// it), logs out, and is sent back to the login page. Screenshots go to $SHOTS.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";

const BASE = process.env.FLOTILLA_URL || "http://127.0.0.1:5000";
const SHOTS = process.env.SHOTS || "target/test-output/ui";
const PASSWORD = process.env.ADMIN_PASSWORD;
assert.ok(PASSWORD, "ADMIN_PASSWORD is the first admin's password");
fs.mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
const page = await context.newPage();
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
const shot = (name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

let passed = 0;
async function step(name, fn) {
  const started = Date.now();
  await fn();
  passed++;
  console.log(`ok ${passed} - ${name} (${Date.now() - started} ms)`);
}

const login = async (password) => {
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
};

await step("a stranger is sent to the login page, and a wrong password refused", async () => {
  await page.goto(BASE + "/models?family=churn");
  await page.waitForURL(/\/login\?next=/);
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await login("not-the-password");
  await page.getByRole("alert").waitFor();
  assert.equal(await page.getByRole("alert").innerText(), "Incorrect user name or password.");
  await shot("21-login-refused");
});

await step("logging in lands on the page first asked for, with a session cookie", async () => {
  await login(PASSWORD);
  await page.waitForURL((url) => url.pathname === "/models" && url.searchParams.get("family") === "churn");
  assert.match(await page.locator("header.top form.who").innerText(), /Signed in as admin/);
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "flotilla_session");
  assert.ok(session, cookies.map((c) => c.name).join());
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Lax");
  assert.equal(await page.evaluate(() => document.cookie.includes("flotilla_session")), false, "no script reads it");
  await shot("22-logged-in");
});

let model = "";
await step("browse to a model and move an alias through its form", async () => {
  await page.locator("#results tbody tr td:first-child a").first().click();
  await page.waitForURL(/\/models\/churn/);
  model = decodeURIComponent(new URL(page.url()).pathname.replace("/models/", ""));
  const version = (await page.locator("table.versions tbody tr").first().getAttribute("id")).replace("v", "");
  const form = page.locator("form.alias-form");
  await form.getByLabel("alias").fill("browser-login");
  await form.getByLabel("version").fill(version);
  await form.getByLabel("why").fill("set from the login test");
  await form.getByRole("button", { name: "Set alias" }).click();
  await page.waitForURL((url) => decodeURIComponent(url.pathname) === `/models/${model}`);
  const row = page.locator("section:has(h2:text('Aliases')) table tr", { hasText: "browser-login" });
  assert.match(await row.innerText(), new RegExp(`v${version}`));
  // The audit log names the signed-in user, not a claimed one.
  await page.goto(`${BASE}/audit?model=${encodeURIComponent(model)}`);
  assert.match(await page.locator("table.audit tbody tr").first().innerText(), /admin/);
  await shot("23-alias-moved");
});

await step("a request from the page's script without the token is refused", async () => {
  const status = await page.evaluate(async () => {
    const r = await fetch("/api/2.0/mlflow/experiments/create", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "no-token" }),
    });
    return r.status;
  });
  assert.equal(status, 403);
});

await step("logging out ends the session and sends the user back to login", async () => {
  await page.getByRole("button", { name: "Log out" }).click();
  await page.waitForURL(/\/login$/);
  assert.equal((await context.cookies()).some((c) => c.name === "flotilla_session"), false);
  await page.goto(`${BASE}/models/${encodeURIComponent(model)}`);
  await page.waitForURL(/\/login\?next=/);
  await shot("24-logged-out");
});

assert.deepEqual(errors, [], "no script errors in the pages");
await browser.close();
console.log(`${passed} login steps passed; screenshots in ${SHOTS}`);
