// keydir's web pages in headless Chromium, in one publishing mode:
//   node pages_test.mjs open     BASE_URL ARTIFACT_DIR KEY_FILE KEY_FPR
//   node pages_test.mjs verified BASE_URL ARTIFACT_DIR KEY_FPR KEY_FILE
//     (KEY_FPR: a key with no published address; KEY_FILE: a key to upload)
//   node pages_test.mjs managed  BASE_URL ARTIFACT_DIR KEY_FPR CONTACT
// Every mode: every page and every error page of the web routes at 1280 and
// 375 px (status, no horizontal overflow, <pre> examples fully visible, a
// screenshot each in ARTIFACT_DIR), and a crawl of the site's own links (none
// leads to a 404 or 405). Open mode also: search, upload through the form,
// a user ID holding <script> shown as text (never run), the revoked state
// impossible to miss, every form field labelled, the pages without
// JavaScript. Verified: the key without a published address found by
// fingerprint and key ID. Managed: no upload form for outsiders, whom to ask
// instead, HTML 401 and 429.
import { chromium } from "playwright-core";
import { mkdirSync, readFileSync } from "node:fs";

const [mode, base, artifacts, ...rest] = process.argv.slice(2);
if (!["open", "verified", "managed"].includes(mode) || !artifacts) {
  console.error("usage: node pages_test.mjs open|verified|managed BASE_URL ARTIFACT_DIR ...");
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

let failures = 0;
function check(name, ok, detail = "") {
  console.log(`${ok ? "ok  " : "FAIL"}  [${mode}] ${name}${ok || !detail ? "" : ": " + detail}`);
  if (!ok) failures++;
}

const WIDTHS = [1280, 375];

// Layout checks of the page shown: no horizontal scrolling, every <pre>
// (the gpg and curl examples) wholly inside its box and the window.
async function layout(page, label) {
  const r = await page.evaluate(() => {
    const pres = [...document.querySelectorAll("pre")].map((p) => {
      const b = p.getBoundingClientRect();
      return { clipped: p.scrollWidth > p.clientWidth + 1, right: b.right, text: p.innerText.slice(0, 40) };
    });
    return { sw: document.documentElement.scrollWidth, iw: window.innerWidth, pres };
  });
  check(`${label}: no horizontal overflow`, r.sw <= r.iw, `scrollWidth ${r.sw} > ${r.iw}`);
  const bad = r.pres.filter((p) => p.clipped || p.right > r.iw + 1);
  check(`${label}: examples fully visible`, bad.length === 0, JSON.stringify(bad));
}

// Opens `path` (GET) at each width: status, HTML, layout, a screenshot.
async function sweep(page, name, path, status) {
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    const resp = await page.goto(base + path);
    const label = `${path} at ${width}px`;
    check(`${label}: status ${status}`, resp.status() === status, `got ${resp.status()}`);
    check(`${label}: HTML`, (resp.headers()["content-type"] || "").startsWith("text/html"));
    await layout(page, label);
    await page.screenshot({ path: `${artifacts}/${mode}-${name}-${width}.png`, fullPage: true });
  }
}

// Submits a POST form to `path` from a page of the site (as a browser does),
// at each width: status, HTML, layout, a screenshot. `headers`: sent with it.
async function sweepPost(context, name, path, fields, status, wantHeader) {
  for (const width of WIDTHS) {
    const page = await context.newPage();
    await page.setViewportSize({ width, height: 900 });
    await page.goto(base + "/about");
    const [resp] = await Promise.all([
      page.waitForNavigation(),
      page.evaluate(({ path, fields }) => {
        const f = document.createElement("form");
        f.method = "post";
        f.action = path;
        for (const [k, v] of Object.entries(fields)) {
          const i = document.createElement("input");
          i.type = "hidden"; i.name = k; i.value = v;
          f.appendChild(i);
        }
        document.body.appendChild(f);
        f.submit();
      }, { path, fields }),
    ]);
    const label = `POST ${path} at ${width}px`;
    check(`${label}: status ${status}`, resp.status() === status, `got ${resp.status()}`);
    check(`${label}: HTML`, (resp.headers()["content-type"] || "").startsWith("text/html"));
    if (wantHeader) {
      check(`${label}: ${wantHeader} header`, !!resp.headers()[wantHeader.toLowerCase()]);
    }
    await layout(page, label);
    await page.screenshot({ path: `${artifacts}/${mode}-${name}-${width}.png`, fullPage: true });
    await page.close();
  }
}

// Follows every link of the site's own pages from `seeds` (breadth first):
// no link may lead to a 404 or a 405. Pages (text/html) are crawled further;
// downloads and API answers are only fetched.
async function crawl(context, seeds) {
  const page = await context.newPage();
  const seen = new Set();
  const queue = [...seeds];
  const broken = [];
  let pages = 0;
  while (queue.length && pages < 80) {
    const path = queue.shift();
    if (seen.has(path)) continue;
    seen.add(path);
    const resp = await page.goto(base + path);
    pages++;
    if (!(resp.headers()["content-type"] || "").startsWith("text/html")) continue;
    const links = await page.evaluate(() =>
      [...document.querySelectorAll("a[href], link[href], script[src], form[action]")].map((e) =>
        e.getAttribute("href") || e.getAttribute("src") || e.getAttribute("action")));
    for (const href of links) {
      const u = new URL(href, base + path);
      if (u.origin !== new URL(base).origin) continue;
      const p = u.pathname + u.search;
      if (seen.has(p) || queue.includes(p)) continue;
      if (/^\/(pks|vks|static|\.well-known)\//.test(u.pathname) || u.pathname === "/upload/verify" ||
          u.pathname === "/favicon.ico") {
        seen.add(p);
        const method = ["/upload/verify"].includes(u.pathname) ? null : "GET";
        if (!method) continue;  // a form target: POST only
        const r = await context.request.get(base + p);
        if (r.status() === 404 || r.status() === 405) broken.push(`${p} (${r.status()}) from ${path}`);
        continue;
      }
      if (u.pathname === "/upload" || (u.pathname === "/manage" && mode === "open")) {
        // form targets: still must not be dead ends when opened
      }
      queue.push(p);
      const r = await context.request.get(base + p, { maxRedirects: 5 });
      if (r.status() === 404 || r.status() === 405) broken.push(`${p} (${r.status()}) from ${path}`);
    }
  }
  await page.close();
  check(`crawl: ${seen.size} links, none leads to a 404 or 405`, broken.length === 0, broken.join(", "));
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const errors = [];
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  let dialogs = 0;
  page.on("dialog", (d) => { dialogs++; d.dismiss(); });
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error" && !/status of 4\d\d|status of 503/.test(m.text())) errors.push(m.text()); });

  if (mode === "open") {
    const [keyFile, keyFpr] = rest;
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
    // The fingerprint leads to the key's own page.
    await cards.first().locator(".fpr a").click();
    await page.waitForURL(/\/key\/FC5D7A69/);
    check("key page from the search result", (await page.locator("h2").first().innerText()).includes("OpenPGP key"));

    // 2. Upload a key through the form (a file; the script moves armored text
    //    into the text box), then follow the link to its page.
    await page.goto(base + "/");
    await page.getByLabel("or choose a key file").setInputFiles(keyFile);
    await page.waitForFunction(() => document.getElementById("keytext").value.includes("BEGIN PGP"));
    await page.getByRole("button", { name: "Upload" }).click();
    await page.waitForURL(/\/upload$/);
    const result = await page.locator("main").innerText();
    check("upload through the form", result.includes("Published"), result);
    await page.screenshot({ path: `${artifacts}/open-upload-answer-1280.png`, fullPage: true });
    await page.getByRole("link", { name: new RegExp(keyFpr.slice(0, 4)) }).click();
    await page.waitForURL(new RegExp(`/key/${keyFpr}$`));
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

    // 4. Labels; key types in words people know.
    for (const path of ["/", "/about", "/upload"]) {
      await page.goto(base + path);
      const unlabelled = await page.evaluate(() =>
        [...document.querySelectorAll("input, textarea")]
          .filter((e) => e.type !== "hidden" && !(e.id && document.querySelector(`label[for="${e.id}"]`))).length);
      check(`every field labelled on ${path}`, unlabelled === 0, `${unlabelled} unlabelled`);
    }
    await page.goto(base + "/about");
    check("about page explains gpg", (await page.locator("main").innerText()).includes("keyserver hkp://"));
    await page.goto(base + "/key/67CF1313E65F6635FA4F0978D77690A8A4055BFC");  // gpg-ed25519.asc
    const type = await page.locator("dl dd").first().innerText();
    check("key type in words (Ed25519)", type.startsWith("Ed25519 "), type);
    const sub = await page.locator("ul.subkeys").innerText();
    check("subkey type in words (Curve25519)", sub.includes("Curve25519") && !sub.includes("ECDH"), sub);

    // 5. Without JavaScript the search still works.
    const nojs = await browser.newContext({ javaScriptEnabled: false });
    const p2 = await nojs.newPage();
    await p2.goto(base + "/");
    await p2.getByLabel("E-mail address, fingerprint, key ID or name").fill("multi@keydir.test");
    await p2.getByRole("button", { name: "Search" }).click();
    await p2.waitForURL(/\/search\?q=/);
    check("search without JavaScript", (await p2.locator("article.cert").count()) === 1);
    await nojs.close();

    // 6. Every page and error page at both widths.
    const fpr = "FC5D7A6980F7E484468DB87F65C71B0D2BE692AA";
    for (const [name, path, status] of [
      ["home", "/", 200], ["about", "/about", 200], ["api", "/api", 200], ["policy", "/policy", 200],
      ["upload-form", "/upload", 200], ["search", "/search?q=multi%40keydir.test", 200],
      ["key", `/key/${fpr}`, 200], ["key-mallory", `/key/${keyFpr}`, 200],
      ["search-none", "/search?q=nobody%40keydir.test", 404], ["error-400", "/search?q=", 400],
      ["error-404", "/no/such/page", 404], ["error-404-key", "/key/" + "0".repeat(40), 404],
      ["manage-open", "/manage", 404],
    ]) {
      await sweep(page, name, path, status);
    }
    await sweepPost(context, "error-405", "/about", {}, 405, "Allow");
    const del = await context.request.fetch(base + "/upload", { method: "DELETE" });
    check("DELETE /upload: HTML 405 with Allow", del.status() === 405 &&
          del.headers()["content-type"].startsWith("text/html") && del.headers()["allow"] === "GET, HEAD, POST");
    const api = await context.request.get(base + "/pks/nothing");
    check("API routes keep plain-text errors", api.status() === 404 &&
          api.headers()["content-type"].startsWith("text/plain"));
    const kid = await context.request.get(base + "/key/" + fpr.slice(24), { maxRedirects: 0 });
    check("a key ID redirects to the key page", kid.status() === 302 && kid.headers()["location"] === `/key/${fpr}`);
    await crawl(context, ["/", `/search?q=multi%40keydir.test`, `/key/${fpr}`, `/key/${keyFpr}`]);
  }

  if (mode === "verified") {
    const [fpr, keyFile] = rest;
    const hkp = await context.request.get(`${base}/pks/lookup?op=get&search=0x${fpr}`);
    check("HKP serves the key without a published address", hkp.status() === 200);
    await page.goto(base + "/");
    await page.getByLabel("E-mail address, fingerprint or key ID").fill(fpr);
    await page.getByRole("button", { name: "Search" }).click();
    await page.waitForURL(/\/search\?q=/);
    check("the web finds it by fingerprint", (await page.locator("article.cert").count()) === 1,
          await page.locator("main").innerText());
    check("withheld user IDs: a truthful note",
          (await page.locator("article.cert .notice").innerText()).includes("their owners have confirmed by e-mail"));
    const kid = await context.request.get(base + "/key/" + fpr.slice(24), { maxRedirects: 0 });
    check("by key ID: to its page", kid.status() === 302 && kid.headers()["location"] === `/key/${fpr}`);
    await page.goto(base + "/");
    check("/ links to /manage", (await page.locator('main a[href="/manage"]').count()) >= 1);
    await page.goto(base + "/about");
    check("/about links to /manage", (await page.locator('main a[href="/manage"]').count()) >= 1);
    check("/about: search by name not offered", (await page.locator("main").innerText()).includes("search by name is not offered"));
    await page.goto(base + "/policy");
    check("/policy: search by name not offered", (await page.locator("main").innerText()).includes("Search by name is not offered"));
    for (const [name, path, status] of [
      ["home", "/", 200], ["about", "/about", 200], ["policy", "/policy", 200], ["api", "/api", 200],
      ["manage", "/manage", 200], ["key", `/key/${fpr}`, 200], ["search-fpr", `/search?q=${fpr}`, 200],
      ["error-410", "/verify/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 410],
      ["error-404", "/nothing", 404],
    ]) {
      await sweep(page, name, path, status);
    }
    // Upload through the form: the answer lists the addresses with their
    // states; asking for the confirmation mails with the relay down (nothing
    // listens on its port) is a 503 page.
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 900 });
      await page.goto(base + "/");
      await page.locator("#keytext").fill(readFileSync(keyFile, "utf8"));
      await page.getByRole("button", { name: "Upload" }).click();
      await page.waitForURL(/\/upload$/);
      await layout(page, `upload answer at ${width}px`);
      await page.screenshot({ path: `${artifacts}/verified-upload-answer-${width}.png`, fullPage: true });
      check(`upload answer at ${width}px: the address to confirm`,
            (await page.locator("main").innerText()).includes("pat@keydir.test"));
      const [resp] = await Promise.all([
        page.waitForNavigation(),
        page.getByRole("button", { name: "Send confirmation mails" }).click(),
      ]);
      check(`mail relay down at ${width}px: 503 page`, resp.status() === 503 &&
            resp.headers()["content-type"].startsWith("text/html"), `${resp.status()}`);
      await layout(page, `503 at ${width}px`);
      await page.screenshot({ path: `${artifacts}/verified-error-503-${width}.png`, fullPage: true });
    }
    await crawl(context, ["/", `/key/${fpr}`, `/search?q=${fpr}`]);
  }

  if (mode === "managed") {
    const [fpr, contact] = rest;
    for (const path of ["/", "/upload", "/about"]) {
      await page.goto(base + path);
      const text = await page.locator("main").innerText();
      check(`${path}: no upload form for outsiders`, (await page.locator('form[action="/upload"]').count()) === 0);
      check(`${path}: whom to ask`, text.includes(`ask the operator: ${contact}`), text.slice(0, 300));
    }
    check("no /manage link: nothing is mailed in this mode",
          (await page.locator('a[href="/manage"]').count()) === 0);
    await page.goto(base + "/about");
    check("/about: no gpg --send-keys for outsiders", !(await page.locator("main").innerText()).includes("--send-keys"));
    for (const [name, path, status] of [
      ["home", "/", 200], ["about", "/about", 200], ["policy", "/policy", 200], ["api", "/api", 200],
      ["upload-get", "/upload", 200], ["key", `/key/${fpr}`, 200], ["error-404", "/nothing", 404],
    ]) {
      await sweep(page, name, path, status);
    }
    await sweepPost(context, "error-401", "/upload", { keytext: "x" }, 401, "WWW-Authenticate");
    // A wrong token, twice (--auth-burst 1): the second is a 429 page.
    const ctx2 = await browser.newContext({ extraHTTPHeaders: { Authorization: "Bearer wrong-token" } });
    const a1 = await ctx2.request.post(base + "/upload", { form: { keytext: "x" } });
    check("a wrong token: 401", a1.status() === 401, `${a1.status()}`);
    await sweepPost(ctx2, "error-429", "/upload", { keytext: "x" }, 429, "Retry-After");
    await ctx2.close();
    await crawl(context, ["/", `/key/${fpr}`]);
  }
  check("no script errors or CSP violations", errors.length === 0, errors.join(" | "));
} finally {
  await browser.close();
}
if (failures) {
  console.log(`${failures} check(s) failed`);
  process.exit(1);
}
console.log(`all ${mode}-mode web page checks passed; screenshots in ${artifacts}`);
