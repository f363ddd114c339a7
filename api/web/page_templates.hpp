// The markup of the web pages (api/web/pages.cpp), as mustache templates
// rendered by web::render() (api/web/templates.hpp).
//
// `{{name}}` ALWAYS escapes. Never write `{{{name}}}` or `{{&name}}` here:
// render() refuses them (tests/unit/api/web_api_test.cpp checks it). Markup
// comes only from these constants, included with `{{>name}}`.
//
// Most templates are one line (the pages have no newlines outside <pre>):
// adjacent raw string literals keep the source readable. A name missing
// from a list item is looked up in the enclosing objects, so pages.cpp gives
// every item all the names its section uses.
#pragma once

#include <string_view>

namespace keydir::api::web::templates {

// Every page: `site_name`, `page_title`, and the page's template as the
// partial `body`.
inline constexpr std::string_view kLayout =
    "<!DOCTYPE html>\n"
    R"HTML(<html lang="en"><head><meta charset="utf-8">)HTML"
    R"HTML(<meta name="viewport" content="width=device-width, initial-scale=1">)HTML"
    R"HTML(<title>{{page_title}} · {{site_name}}</title>)HTML"
    R"HTML(<link rel="stylesheet" href="/static/style.css">)HTML"
    R"HTML(<link rel="icon" href="/static/icon.svg" type="image/svg+xml">)HTML"
    R"HTML(<script src="/static/app.js" defer></script></head><body>)HTML"
    R"HTML(<header><h1><a href="/">{{site_name}}</a></h1>)HTML"
    R"HTML(<nav aria-label="Main"><a href="/">Search and publish</a>)HTML"
    R"HTML(<a href="/about">How to use this server</a></nav></header>)HTML"
    R"HTML(<main>{{>body}}</main>)HTML"
    R"HTML(<footer>An OpenPGP key directory: HKP, WKD and the VKS API. )HTML"
    R"HTML(Keys are checked before they are stored; this server does not vouch for who owns )HTML"
    R"HTML(them.</footer></body></html>)HTML"
    "\n";

// `query`: the search box's value.
inline constexpr std::string_view kSearchForm =
    R"HTML(<form action="/search" method="get" role="search">)HTML"
    R"HTML(<label for="q">E-mail address, fingerprint, key ID or name</label>)HTML"
    R"HTML(<input id="q" name="q" type="search" required value="{{query}}")HTML"
    R"HTML( placeholder="alice@example.org"><button type="submit">Search</button></form>)HTML";

// A title and one line of text (`error`: shown as an alert).
inline constexpr std::string_view kMessage =
    R"HTML(<h2>{{page_title}}</h2>)HTML"
    R"HTML(<p class="notice{{#error}} error" role="alert{{/error}}">{{text}}</p>)HTML"
    R"HTML(<p><a href="/">Back</a></p>)HTML";

// An error alone (`alert`: with role="alert").
inline constexpr std::string_view kErrorNotice =
    R"HTML(<p class="notice error"{{#alert}} role="alert"{{/alert}}>{{text}}</p>)HTML";

// The search box and the upload form; `has_notice`/`notice`: why the last
// request was refused.
inline constexpr std::string_view kHome =
    R"HTML({{#has_notice}}<p class="notice error" role="alert">{{notice}}</p>{{/has_notice}})HTML"
    R"HTML(<section aria-labelledby="find"><h2 id="find">Find a key</h2>{{>search_form}})HTML"
    R"HTML(</section>)HTML"
    R"HTML(<section aria-labelledby="pub"><h2 id="pub">Publish your public key</h2>)HTML"
    R"HTML(<form action="/upload" method="post" enctype="multipart/form-data">)HTML"
    R"HTML(<label for="keytext">Paste your public key (ASCII armored)</label>)HTML"
    R"HTML(<textarea id="keytext" name="keytext" rows="8" spellcheck="false" )HTML"
    R"HTML(placeholder="-----BEGIN PGP PUBLIC KEY BLOCK-----"></textarea>)HTML"
    R"HTML(<label for="keyfile">or choose a key file</label>)HTML"
    R"HTML(<input id="keyfile" name="keyfile" type="file" )HTML"
    R"HTML(accept=".asc,.gpg,.pgp,.key,application/pgp-keys">)HTML"
    R"HTML(<p>Only public keys are accepted. Each key is checked: signatures that do not verify, )HTML"
    R"HTML(third-party certifications and photo IDs are left out.</p>)HTML"
    R"HTML(<button type="submit">Upload</button></form></section>)HTML";

// One certificate of the search results (an item of `cards`).
inline constexpr std::string_view kCard =
    R"HTML(<article class="cert{{#revoked}} revoked{{/revoked}}{{#expired}} expired{{/expired}}">)HTML"
    R"HTML({{#revoked}}<p class="banner revoked">REVOKED on {{revoked_on}})HTML"
    R"HTML({{#has_reason}}: {{reason}}{{/has_reason}} — do not use this key.</p>{{/revoked}})HTML"
    R"HTML({{#expired}}<p class="banner expired">EXPIRED on {{expired_on}})HTML"
    R"HTML( — do not use this key.</p>{{/expired}})HTML"
    R"HTML(<h3 class="fpr"><span data-fpr="{{hex}}">{{grouped}}</span></h3>)HTML"
    R"HTML(<dl><dt>Type</dt><dd>{{type}} (v{{version}})</dd>)HTML"
    R"HTML(<dt>Created</dt><dd>{{created}}</dd>)HTML"
    R"HTML(<dt>Expires</dt><dd>{{expires}}</dd>)HTML"
    R"HTML(<dt>Can</dt><dd>{{can}}</dd>)HTML"
    R"HTML(<dt>Download</dt><dd><a href="/pks/lookup?op=get&amp;options=mr&amp;search=0x{{hex}}")HTML"
    R"HTML( download="{{hex}}.asc">{{hex}}.asc</a></dd></dl>)HTML"
    R"HTML(<h4>User IDs</h4><ul class="uids">)HTML"
    R"HTML({{#uids}}<li>{{text}}{{#primary}}<span class="tag">primary</span>{{/primary}})HTML"
    R"HTML({{#revoked}}<span class="tag bad">revoked</span>{{/revoked}}</li>{{/uids}})HTML"
    R"HTML({{^uids}}<li>(none)</li>{{/uids}}</ul>)HTML"
    // The same words on every card: how many user IDs a key has beyond the
    // published ones is its owner's business (issue #16).
    R"HTML({{#verified_mode}}<p class="notice">This directory shows only the user IDs whose )HTML"
    R"HTML(addresses their owners have confirmed by e-mail.)HTML"
    R"HTML({{^uids}} GnuPG 2.2 skips a key with no user ID when it is new to it; updates of a )HTML"
    R"HTML(key already in its keyring (revocations, new subkeys) still reach it.{{/uids}})HTML"
    R"HTML(</p>{{/verified_mode}})HTML"
    R"HTML(<h4>Subkeys</h4><ul class="subkeys">)HTML"
    R"HTML({{#subkeys}}<li><code>{{grouped}}</code> {{type}}, {{can}}, created {{created}},)HTML"
    R"HTML( expires {{expires}}{{#revoked}}<span class="tag bad">revoked</span>{{/revoked}})HTML"
    R"HTML({{#expired}}<span class="tag warn">expired</span>{{/expired}}</li>{{/subkeys}})HTML"
    R"HTML({{^subkeys}}<li>(none)</li>{{/subkeys}}</ul></article>)HTML";

// The search box with `query` and the `cards` found.
inline constexpr std::string_view kSearch =
    R"HTML(<section aria-labelledby="find"><h2 id="find" class="sr">Search</h2>)HTML"
    R"HTML({{>search_form}}</section><section aria-labelledby="res">)HTML"
    R"HTML(<h2 id="res">{{heading}} for “{{query}}”</h2>)HTML"
    R"HTML({{#truncated}}<p class="notice">Only the first {{max_results}} are shown; )HTML"
    R"HTML(make the search more precise.</p>{{/truncated}})HTML"
    R"HTML({{#cards}}{{>card}}{{/cards}}</section>)HTML";

// The addresses an upload held and their states (verified and managed
// mode), with a form that mails confirmation links.
inline constexpr std::string_view kAddressStates =
    R"HTML({{#no_addresses}}<p>This upload has no e-mail address to publish.</p>{{/no_addresses}})HTML"
    R"HTML({{#has_form}}<form action="/upload/verify" method="post">)HTML"
    R"HTML(<input type="hidden" name="token" value="{{token}}">)HTML"
    R"HTML(<fieldset><legend>Addresses of <code>{{grouped}}</code> in this upload</legend><ul>)HTML"
    R"HTML({{#addresses}}<li>{{#unpublished}}<input type="checkbox" name="address" id="{{id}}")HTML"
    R"HTML( value="{{address}}" checked> <label class="inline" for="{{id}}">{{address}}</label>)HTML"
    R"HTML({{/unpublished}}{{^unpublished}}{{address}}{{/unpublished}})HTML"
    R"HTML( <span class="tag">{{state}}</span></li>{{/addresses}}</ul></fieldset>)HTML"
    R"HTML({{#any}}<p>An address is published only once its owner confirms it: each one gets a )HTML"
    R"HTML(mail with a link.</p><button type="submit">Send confirmation mails</button>{{/any}})HTML"
    R"HTML(</form>{{/has_form}})HTML";

// What an upload stored (`stored`), the addresses of each (`states`) and
// what it refused (`refused`).
inline constexpr std::string_view kUpload =
    R"HTML(<h2>Upload</h2><ul>{{#stored}}<li class="ok">{{outcome}})HTML"
    R"HTML(<a href="/search?q=0x{{hex}}"><code>{{grouped}}</code></a>)HTML"
    R"HTML({{#has_stripped}} — left out: {{stripped_count}} part(s) ({{stripped_component}}: )HTML"
    R"HTML({{stripped_reason}}{{#more_stripped}}, …{{/more_stripped}}){{/has_stripped}})HTML"
    R"HTML(</li>{{/stored}}</ul>)HTML"
    R"HTML({{#states}}{{>address_states}}{{/states}})HTML"
    R"HTML(<ul>{{#refused}}<li class="notice error">Refused)HTML"
    R"HTML({{#has_fpr}} <code>{{grouped}}</code>{{/has_fpr}}: {{reason}}</li>{{/refused}})HTML"
    R"HTML(</ul><p><a href="/">Back</a></p>)HTML";

// A confirmation link opened (GET): what it would publish.
inline constexpr std::string_view kVerifyAsk =
    R"HTML(<h2>Publish your address</h2><p>Publish <strong>{{email}}</strong> with the )HTML"
    R"HTML(OpenPGP key <code>{{grouped}}</code>? Anyone will then find this key by that )HTML"
    R"HTML(address.</p><form method="post"><button type="submit">Publish</button></form>)HTML";

// A confirmation link followed (POST).
inline constexpr std::string_view kVerifyDone =
    R"HTML(<h2>Published</h2><p class="notice">{{email}} is now published with the key )HTML"
    R"HTML(<a href="/search?q=0x{{hex}}"><code>{{grouped}}</code></a>. To take it off later, )HTML"
    R"HTML(use <a href="/manage">Manage your key</a>.</p>)HTML";

// The form that mails a manage link.
inline constexpr std::string_view kManage =
    R"HTML(<h2>Manage your key</h2><form action="/manage" method="post">)HTML"
    R"HTML(<label for="email">Your e-mail address</label><input id="email" )HTML"
    R"HTML(name="email" type="email" required autocomplete="email">)HTML"
    R"HTML(<p>You get a link from which you can unpublish the addresses of your key.</p>)HTML"
    R"HTML(<button type="submit">Send me a link</button></form>)HTML";

// A manage link: the key's `published` addresses, each with an Unpublish
// button; `has_notice`/`removed`: the address just unpublished.
inline constexpr std::string_view kManageKey =
    R"HTML(<h2>Manage your key</h2>)HTML"
    R"HTML({{#has_notice}}<p class="notice" role="status">{{removed}} is no longer published.</p>)HTML"
    R"HTML({{/has_notice}}<p>Key <code>{{grouped}}</code>. Published addresses:</p><ul>)HTML"
    R"HTML({{#published}}<li>{{.}} <form class="inline" method="post"><input )HTML"
    R"HTML(type="hidden" name="address" value="{{.}}"><button type="submit">Unpublish</button>)HTML"
    R"HTML(</form></li>{{/published}}{{^published}}<li>none</li>{{/published}})HTML"
    R"HTML(</ul><p>The key itself (and its revocations) stays available by fingerprint: a revoked )HTML"
    R"HTML(key must remain findable so that others learn it was revoked.</p>)HTML";

// /about: `hkp`, `thunderbird`, `base` (URLs from the Host header), `tls`,
// `has_wkd` and `wkd_domains`. The <pre> blocks keep their newlines.
inline constexpr std::string_view kAbout =
    R"HTML(<h2>How to use this server</h2>)HTML"
    R"HTML(<h3>GnuPG</h3><p>In <code>~/.gnupg/dirmngr.conf</code>:</p><pre>keyserver {{hkp}})HTML"
    R"HTML(</pre><pre>gpg --send-keys YOUR-FINGERPRINT
gpg --recv-keys FINGERPRINT
gpg --search-keys alice@example.org
gpg --refresh-keys</pre>)HTML"
    R"HTML({{^tls}}<p class="notice">This server answers in plain HTTP here. Put it behind HTTPS )HTML"
    R"HTML((or start it with <code>--tls-cert</code> and <code>--tls-key</code>) so that keys )HTML"
    R"HTML(and searches do not travel in clear text.</p>{{/tls}})HTML"
    R"HTML(<h3>Thunderbird</h3><p>Settings → General → Config Editor: set )HTML"
    R"HTML(<code>mail.openpgp.keyserver_list</code> to <code>{{thunderbird}}</code>. )HTML"
    R"HTML(Thunderbird also finds keys by e-mail address through this server's )HTML"
    R"HTML(VKS API and the Web Key Directory of the domains below.</p>)HTML"
    R"HTML(<h3>curl</h3><pre>curl '{{base}}/pks/lookup?op=get&amp;options=mr&amp;search=alice@example.org'
curl {{base}}/vks/v1/by-email/alice@example.org
curl --data-urlencode keytext@key.asc {{base}}/pks/add
curl -H 'Content-Type: application/json' --data '{"keytext": "…"}' {{base}}/vks/v1/upload</pre>)HTML"
    R"HTML(<h3>Web Key Directory</h3>)HTML"
    R"HTML({{^has_wkd}}<p>This server publishes no Web Key Directory. An operator turns it on )HTML"
    R"HTML(per domain with <code>keydird serve --wkd-domain example.org</code> (or )HTML"
    R"HTML(<code>wkd_domains</code> in the configuration file).</p>{{/has_wkd}})HTML"
    R"HTML({{#has_wkd}}<p>This server publishes the Web Key Directory of:</p><ul>)HTML"
    R"HTML({{#wkd_domains}}<li><code>{{.}}</code></li>{{/wkd_domains}})HTML"
    R"HTML(</ul><p>To make <code>gpg --locate-keys</code> and mail clients find keys of a )HTML"
    R"HTML(domain <var>D</var> here, use one of the two methods of the draft:</p><ol>)HTML"
    R"HTML(<li><strong>Advanced:</strong> a DNS record <code>openpgpkey.<var>D</var></code> )HTML"
    R"HTML(pointing to this server, and an HTTPS certificate for that name. Clients ask )HTML"
    R"HTML(<code>https://openpgpkey.<var>D</var>/.well-known/openpgpkey/<var>D</var>/hu/…</code>)HTML"
    R"HTML(.</li><li><strong>Direct:</strong> the web server of <code><var>D</var></code> )HTML"
    R"HTML(passes <code>/.well-known/openpgpkey/</code> on to this server (keeping the )HTML"
    R"HTML(<code>Host</code> header).</li></ol><p>Or export a static tree for your own web )HTML"
    R"HTML(server: <code>keydird wkd-export --data DIR --domain <var>D</var> --out )HTML"
    R"HTML(DIR</code>. Check with <code>gpg-wks-client --print-wkd-url you@<var>D</var></code> )HTML"
    R"HTML(and <code>gpg --auto-key-locate clear,nodefault,wkd --locate-keys )HTML"
    R"HTML(you@<var>D</var></code>.</p>{{/has_wkd}})HTML";

}  // namespace keydir::api::web::templates
