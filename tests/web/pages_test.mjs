// keydir's web pages in headless Chromium: search for a stored key and see it
// listed, upload a key through the form, see a user ID holding <script> shown
// as text (never run), the revoked state impossible to miss, every form field
// labelled, and the pages working without JavaScript. Saves a screenshot of a
// results page.
//   node pages_test.mjs BASE_URL ARTIFACT_DIR KEY_FILE KEY_FPR
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const [base, artifacts, keyFile, keyFpr] = process.argv.slice(2);
if (!keyFpr) {
  console.error("usage: node pages_test.mjs BASE_URL ARTIFACT_DIR KEY_FILE KEY_FPR");
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

let failures = 0;
function check(name, ok, detail = "") {
  console.log(`${ok ? "ok  " : "FAIL"}  ${name}${ok || !detail ? "" : ": " + detail}`);
  if (!ok) failures++;
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  let dialogs = 0;
  const errors = [];
  page.on("dialog", (d) => { dialogs++; d.dismiss(); });
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });

  // 1. Search for a stored key from the home page.
  await page.goto(base + "/");
  check("home page title", (await page.title()).includes("keydir"));
  await page.getByLabel("E-mail address, fingerprint, key ID or name").fill("multi@keydir.test");
  await page.getByRole("button", { name: "Search" }).click();
  await page.waitForURL(/\/search\?q=/);
  const cards = page.locator("article.cert");
  check("search lists the key", (await cards.count()) === 1, `${await cards.count()} cards`);
  check("fingerprint in groups of four",
        (await cards.first().locator(".fpr").innerText()).includes("FC5D 7A69 80F7 E484"));
  const uids = await cards.first().locator("ul.uids li").allInnerTexts();
  check("user IDs listed", uids.some((u) => u.startsWith("keydir test multi <multi@keydir.test>")),
        JSON.stringify(uids));
  check("revoked user ID marked", uids.some((u) => u.includes("gone@keydir.test") && u.includes("revoked")));
  check("subkeys with capabilities",
        (await cards.first().locator("ul.subkeys").innerText()).includes("encrypt"));
  const download = cards.first().getByRole("link", { name: /\.asc$/ });
  check("download link is op=get",
        ((await download.getAttribute("href")) || "").includes("/pks/lookup?op=get"));

  // 2. Upload a key through the form (a file; the script moves armored text
  //    into the text box), then follow the link to its page.
  await page.goto(base + "/");
  await page.getByLabel("or choose a key file").setInputFiles(keyFile);
  await page.waitForFunction(() => document.getElementById("keytext").value.includes("BEGIN PGP"));
  await page.getByRole("button", { name: "Upload" }).click();
  await page.waitForURL(/\/upload$/);
  const result = await page.locator("main").innerText();
  check("upload through the form", result.includes("Published"), result);
  await page.getByRole("link", { name: new RegExp(keyFpr.slice(0, 4)) }).click();
  await page.waitForURL(/\/search\?q=/);
  const shown = await page.locator("ul.uids li").first().innerText();
  check("<script> in a user ID shows as text",
        shown.startsWith("Mallory <script>alert(1)</script> <mallory@keydir.test>"), shown);
  check("no script element from key data", (await page.locator("main script").count()) === 0);
  check("nothing ran (no dialog)", dialogs === 0);
  await page.screenshot({ path: `${artifacts}/results.png`, fullPage: true });

  // 3. A revoked key cannot be missed.
  await page.goto(base + "/search?q=revoked%40keydir.test");
  const banner = page.locator(".banner.revoked");
  check("revoked banner", (await banner.count()) === 1 && (await banner.innerText()).includes("REVOKED"));
  check("revoked banner is visible", await banner.isVisible());
  await page.screenshot({ path: `${artifacts}/revoked.png` });

  // 4. Labels, about page, narrow screens.
  for (const path of ["/", "/about"]) {
    await page.goto(base + path);
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll("input, textarea")]
        .filter((e) => !(e.id && document.querySelector(`label[for="${e.id}"]`))).length);
    check(`every field labelled on ${path}`, unlabelled === 0, `${unlabelled} unlabelled`);
  }
  check("about page explains gpg", (await page.locator("main").innerText()).includes("keyserver hkp://"));
  await page.setViewportSize({ width: 375, height: 800 });
  await page.goto(base + "/search?q=multi%40keydir.test");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  check("no horizontal scrolling on a phone-sized screen", !overflow);
  check("no script errors or CSP violations", errors.length === 0, errors.join(" | "));

  // 5. Without JavaScript the search still works.
  const nojs = await browser.newContext({ javaScriptEnabled: false });
  const p2 = await nojs.newPage();
  await p2.goto(base + "/");
  await p2.getByLabel("E-mail address, fingerprint, key ID or name").fill("multi@keydir.test");
  await p2.getByRole("button", { name: "Search" }).click();
  await p2.waitForURL(/\/search\?q=/);
  check("search without JavaScript", (await p2.locator("article.cert").count()) === 1);
  await nojs.close();
} finally {
  await browser.close();
}
if (failures) {
  console.log(`${failures} check(s) failed`);
  process.exit(1);
}
console.log(`all web page checks passed; screenshots in ${artifacts}`);
