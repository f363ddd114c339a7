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

// Every page: `site_name`, `page_title`, `has_manage` (the /manage link),
// `has_contact`/`contact` (who runs the directory), and the page's template
// as the partial `body`.
inline constexpr std::string_view kLayout =
    "<!DOCTYPE html>\n"
    R"HTML(<html lang="en"><head><meta charset="utf-8">)HTML"
    R"HTML(<meta name="viewport" content="width=device-width, initial-scale=1">)HTML"
    R"HTML(<title>{{page_title}} · {{site_name}}</title>)HTML"
    R"HTML(<link rel="stylesheet" href="/static/style.css">)HTML"
    R"HTML(<link rel="icon" href="/static/icon.svg" type="image/svg+xml">)HTML"
    R"HTML(<script src="/static/app.js" defer></script></head><body>)HTML"
    R"HTML(<header><h1><a href="/">{{site_name}}</a></h1>)HTML"
    R"HTML(<nav aria-label="Main"><a href="/">Search{{#uploads}} and publish{{/uploads}}</a>)HTML"
    R"HTML({{#has_manage}}<a href="/manage">Manage your key</a>{{/has_manage}})HTML"
    R"HTML(<a href="/about">About</a><a href="/api">API</a><a href="/policy">Policy</a>)HTML"
    R"HTML(</nav></header>)HTML"
    R"HTML(<main>{{>body}}</main>)HTML"
    R"HTML(<footer><p>An OpenPGP key directory: HKP, WKD and the VKS API. )HTML"
    R"HTML(Keys are checked before they are stored; this server does not vouch for who owns )HTML"
    R"HTML(them.</p>{{#has_contact}}<p>Run by {{contact}}.</p>{{/has_contact}})HTML"
    R"HTML(<p><a href="/about">About</a> · <a href="/api">API</a> · )HTML"
    R"HTML(<a href="/policy">Privacy and usage policy</a>{{#has_version}} · keydir )HTML"
    R"HTML({{version}}{{/has_version}}</p></footer></body></html>)HTML"
    "\n";

// `query`: the search box's value; `search_label`: what can be searched
// for in the mode in force.
inline constexpr std::string_view kSearchForm =
    R"HTML(<form action="/search" method="get" role="search">)HTML"
    R"HTML(<label for="q">{{search_label}}</label>)HTML"
    R"HTML(<input id="q" name="q" type="search" required value="{{query}}")HTML"
    R"HTML( placeholder="alice@example.org"><button type="submit">Search</button></form>)HTML";

// A title and one line of text (`error`: shown as an alert).
inline constexpr std::string_view kMessage =
    R"HTML(<h2>{{page_title}}</h2>)HTML"
    R"HTML(<p class="notice{{#error}} error" role="alert{{/error}}">{{text}}</p>)HTML"
    R"HTML(<p><a href="/">Back</a></p>)HTML";

// An error page (400, 401, 404, 405, 410, 429, 503 on the web routes):
// `status`, `page_title`, `text`, and where to go from here.
inline constexpr std::string_view kErrorPage =
    R"HTML(<h2>{{page_title}}</h2>)HTML"
    R"HTML(<p class="notice error" role="alert">{{text}}</p>)HTML"
    R"HTML(<p class="muted">HTTP status {{status}}.</p>)HTML"
    R"HTML(<p><a href="/">Search for a key</a> · <a href="/about">How this directory )HTML"
    R"HTML(works</a></p>)HTML";

// Managed mode with uploads by operator token: who runs the directory and
// how to get a key added (`has_contact`, `contact`, `domains`).
inline constexpr std::string_view kManagedNote =
    R"HTML(<p>This directory is run by {{#has_contact}}{{contact}}{{/has_contact}})HTML"
    R"HTML({{^has_contact}}the organization it serves{{/has_contact}}. It publishes the keys of )HTML"
    R"HTML(the addresses at {{#domains}}<code>{{.}}</code> {{/domains}}that its operators add; )HTML"
    R"HTML(nobody else can upload here.</p><p><strong>To get a key added</strong>, ask the )HTML"
    R"HTML(operator{{#has_contact}}: {{contact}}{{/has_contact}}{{^has_contact}}s of this )HTML"
    R"HTML(directory{{/has_contact}}.</p>)HTML";

// POST /upload without an operator token in managed mode (a 401).
inline constexpr std::string_view kUploadsClosed =
    R"HTML(<h2>{{page_title}}</h2><p class="notice error" role="alert">This directory takes )HTML"
    R"HTML(uploads from its operators only.</p>{{>managed_note}})HTML"
    R"HTML(<p><a href="/">Search for a key</a></p>)HTML";

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
    R"HTML({{^uploads}}{{>managed_note}}</section>{{/uploads}}{{#uploads}})HTML"
    R"HTML({{#verifies}}<p>An e-mail address on your key is published once you confirm it: )HTML"
    R"HTML(after the upload, this directory mails a link to each address.</p>{{/verifies}})HTML"
    R"HTML(<form action="/upload" method="post" enctype="multipart/form-data">)HTML"
    R"HTML(<label for="keytext">Paste your public key (ASCII armored)</label>)HTML"
    R"HTML(<textarea id="keytext" name="keytext" rows="8" spellcheck="false" )HTML"
    R"HTML(placeholder="-----BEGIN PGP PUBLIC KEY BLOCK-----"></textarea>)HTML"
    R"HTML(<label for="keyfile">or choose a key file</label>)HTML"
    R"HTML(<input id="keyfile" name="keyfile" type="file" )HTML"
    R"HTML(accept=".asc,.gpg,.pgp,.key,application/pgp-keys">)HTML"
    R"HTML(<p>Only public keys are accepted. Each key is checked: signatures that do not verify, )HTML"
    R"HTML(third-party certifications and photo IDs are left out.</p>)HTML"
    R"HTML(<button type="submit">Upload</button></form></section>{{/uploads}})HTML"
    R"HTML({{#has_manage}}<section aria-labelledby="man"><h2 id="man">Manage your key</h2>)HTML"
    R"HTML(<p>To take an address of yours off this directory, <a href="/manage">ask for a )HTML"
    R"HTML(link by e-mail</a>.</p></section>{{/has_manage}})HTML";

// One certificate of the search results (an item of `cards`).
inline constexpr std::string_view kCard =
    R"HTML(<article class="cert{{#revoked}} revoked{{/revoked}}{{#expired}} expired{{/expired}}">)HTML"
    R"HTML({{#revoked}}<p class="banner revoked">REVOKED on {{revoked_on}})HTML"
    R"HTML({{#has_reason}}: {{reason}}{{/has_reason}} — do not use this key.</p>{{/revoked}})HTML"
    R"HTML({{#expired}}<p class="banner expired">EXPIRED on {{expired_on}})HTML"
    R"HTML( — do not use this key.</p>{{/expired}})HTML"
    R"HTML(<h3 class="fpr"><a href="/key/{{hex}}" data-fpr="{{hex}}">{{grouped}}</a></h3>)HTML"
    R"HTML(<dl><dt>Type</dt><dd>{{type}} (v{{version}})</dd>)HTML"
    R"HTML(<dt>Created</dt><dd>{{created}}</dd>)HTML"
    R"HTML(<dt>Expires</dt><dd>{{expires}}</dd>)HTML"
    R"HTML(<dt>Can</dt><dd>{{can}}</dd>)HTML"
    R"HTML(<dt>Download</dt><dd><a href="/pks/lookup?op=get&amp;options=mr&amp;search=0x{{hex}}")HTML"
    R"HTML( download="{{hex}}.asc">{{hex}}.asc</a></dd>)HTML"
    R"HTML({{^on_key_page}}<dt>Details</dt><dd><a href="/key/{{hex}}">Key page</a></dd>)HTML"
    R"HTML({{/on_key_page}}</dl>)HTML"
    R"HTML(<h4>User IDs</h4><ul class="uids">)HTML"
    R"HTML({{#uids}}<li>{{text}}{{#primary}}<span class="tag">primary</span>{{/primary}})HTML"
    R"HTML({{#revoked}}<span class="tag bad">revoked</span>{{/revoked}}</li>{{/uids}})HTML"
    R"HTML({{^uids}}<li>(none)</li>{{/uids}}</ul>)HTML"
    // The same words on every card: how many user IDs a key has beyond the
    // published ones is its owner's business (issue #16).
    R"HTML({{#verified_mode}}<p class="notice">{{withheld_note}})HTML"
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
    R"HTML(<a href="/key/{{hex}}"><code>{{grouped}}</code></a>)HTML"
    R"HTML({{#has_stripped}} — left out: {{stripped_count}} part(s) ({{stripped_component}}: )HTML"
    R"HTML({{stripped_reason}}{{#more_stripped}}, …{{/more_stripped}}){{/has_stripped}})HTML"
    R"HTML({{#publication}}<br><code>{{address}}</code>: {{#published}})HTML"
    R"HTML(published{{/published}}{{^published}}withheld — {{reason}}{{/published}}{{/publication}})HTML"
    R"HTML({{#without_address}}<br>User IDs without an e-mail address ({{without_address_count}}))HTML"
    R"HTML( are not published in this directory&#39;s mode.{{/without_address}})HTML"
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

// A used confirmation link opened again: what it did and whether that still
// holds (`text`, from service::describe), the key's page (`hex`).
inline constexpr std::string_view kUsedLink =
    R"HTML(<h2>{{page_title}}</h2><p class="notice" role="status">{{text}}</p>)HTML"
    R"HTML(<p>{{#has_key}}<a href="/key/{{hex}}">The key&#39;s page</a>{{/has_key}})HTML"
    R"HTML({{#has_manage}}{{#has_key}} · {{/has_key}})HTML"
    R"HTML(<a href="/manage">Manage your key</a>{{/has_manage}}</p>)HTML";

// A confirmation link followed (POST).
inline constexpr std::string_view kVerifyDone =
    R"HTML(<h2>Published</h2><p class="notice">{{email}} is now published with the key )HTML"
    R"HTML(<a href="/key/{{hex}}"><code>{{grouped}}</code></a>. To take it off later, )HTML"
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

// One key on its own page (/key/<FPR>): its card (`key`, kCard's names),
// how to get it (`hex`, `hkp`, `base`).
inline constexpr std::string_view kKeyPage =
    R"HTML(<h2>OpenPGP key</h2>{{#key}}{{>card}}{{/key}})HTML"
    R"HTML(<section aria-labelledby="get"><h3 id="get">Get this key</h3>)HTML"
    R"HTML(<p><a href="/vks/v1/by-fingerprint/{{hex}}" download="{{hex}}.asc">Download )HTML"
    R"HTML({{hex}}.asc</a> (as this directory publishes it)</p>)HTML"
    R"HTML(<p>With GnuPG or curl:</p><pre class="cmd">gpg --keyserver {{hkp}} --recv-keys {{hex}}
curl -o {{hex}}.asc {{base}}/vks/v1/by-fingerprint/{{hex}}</pre>)HTML"
    R"HTML(<p>Before you use a key, compare its fingerprint with one its owner gave you )HTML"
    R"HTML(in person or through a channel you trust.</p></section>)HTML";

// /about: `mode_text`, `hkp`, `thunderbird`, `base` (URLs from the Host
// header), `open` (search by name offered), `uploads`, `verifies`,
// `has_manage`, `has_wkd` and `wkd_domains`, `has_log`, `log_vkey`,
// `has_witnesses` and `log_witnesses`. The <pre> blocks keep their newlines.
inline constexpr std::string_view kAbout =
    R"HTML(<h2>About this directory</h2>)HTML"
    R"HTML(<p>{{site_name}} is an OpenPGP key directory: it publishes public keys, so that )HTML"
    R"HTML(people can find the key of someone they want to write to, and check the signatures )HTML"
    R"HTML(of mail and software. Every key is checked before it is stored.</p>)HTML"
    R"HTML(<p class="notice">{{mode_text}}</p>)HTML"
    R"HTML(<h3>Find a key</h3>)HTML"
    R"HTML(<p>Use the search box on the <a href="/">home page</a>{{#open}} (an e-mail address, a )HTML"
    R"HTML(fingerprint, a key ID or a name){{/open}}{{^open}} with an e-mail address, a fingerprint )HTML"
    R"HTML(or a key ID: search by name is not offered here{{/open}}, or GnuPG. In )HTML"
    R"HTML(<code>~/.gnupg/dirmngr.conf</code>:</p><pre>keyserver {{hkp}}</pre>)HTML"
    R"HTML(<pre>gpg --auto-key-locate keyserver --locate-keys alice@example.org
gpg --recv-keys FINGERPRINT
gpg --refresh-keys</pre>)HTML"
    R"HTML({{#has_wkd}}<p>The keys of addresses at {{#wkd_domains}}<code>{{.}}</code> )HTML"
    R"HTML({{/wkd_domains}}are also published in their domain's Web Key Directory, where )HTML"
    R"HTML(GnuPG and mail programs find them by themselves: )HTML"
    R"HTML(<code>gpg --locate-keys alice@{{first_domain}}</code>.</p>{{/has_wkd}})HTML"
    R"HTML(<p>Thunderbird: Settings → General → Config Editor, set )HTML"
    R"HTML(<code>mail.openpgp.keyserver_list</code> to <code>{{thunderbird}}</code>.</p>)HTML"
    R"HTML(<p>With curl:</p><pre class="cmd">curl {{base}}/vks/v1/by-email/alice@example.org
curl '{{base}}/pks/lookup?op=get&amp;options=mr&amp;search=0xFINGERPRINT'</pre>)HTML"
    R"HTML(<h3>Publish your key</h3>)HTML"
    R"HTML({{^uploads}}{{>managed_note}}{{/uploads}})HTML"
    R"HTML({{#uploads}}{{#verifies}}<p>Upload your public key with the form on the )HTML"
    R"HTML(<a href="/">home page</a>. The answer lists the e-mail addresses of your key and )HTML"
    R"HTML(mails a confirmation link to each one you choose; an address is published once you )HTML"
    R"HTML(follow its link. Uploads through <code>gpg --send-keys</code> or the API are kept too, )HTML"
    R"HTML(but only the form and the API's <code>request-verify</code> send the links.</p>)HTML"
    R"HTML({{/verifies}}{{^verifies}}<p>Upload your public key with the form on the )HTML"
    R"HTML(<a href="/">home page</a>, or with GnuPG:</p><pre>gpg --send-keys YOUR-FINGERPRINT</pre>)HTML"
    R"HTML(<p>Every user ID that passes the checks is published at once; nobody confirms that )HTML"
    R"HTML(an address belongs to the uploader.</p>{{/verifies}}{{/uploads}})HTML"
    R"HTML({{#has_manage}}<h3>Take your address off</h3><p><a href="/manage">Manage your )HTML"
    R"HTML(key</a>: you get a link by e-mail from which you can unpublish your addresses.</p>)HTML"
    R"HTML({{/has_manage}})HTML"
    R"HTML({{#has_log}}<h3>Transparency log</h3><p>Every change to what this directory )HTML"
    R"HTML(publishes is recorded in a public, append-only log, so that it cannot show you a )HTML"
    R"HTML(key it hides from everyone else unnoticed. Its verifier key:</p>)HTML"
    R"HTML(<pre>{{log_vkey}}</pre>{{#has_witnesses}}<p>Its checkpoints are cosigned by these )HTML"
    R"HTML(witnesses:</p><pre>{{#log_witnesses}}{{.}}
{{/log_witnesses}}</pre>{{/has_witnesses}})HTML"
    R"HTML(<p>Check the answers you get against it:</p><pre class="cmd">keydir fetch --audit )HTML"
    R"HTML(--server {{base}} --log-key {{log_vkey}} alice@example.org</pre>{{/has_log}})HTML"
    R"HTML(<h3>More</h3><ul><li><a href="/api">The HTTP API</a> (HKP, VKS, WKD) for )HTML"
    R"HTML(programs</li><li><a href="/policy">Privacy and usage policy</a>: what this )HTML"
    R"HTML(directory stores and publishes</li></ul>)HTML"
    R"HTML({{#has_contact}}<p>This directory is run by {{contact}}.</p>{{/has_contact}})HTML";

// /policy: `blocks`, each a heading, a paragraph or a list (every item has
// `heading`, `para`, `list`, `text` and `lines`); `has_contact`/`contact`.
inline constexpr std::string_view kPolicy =
    R"HTML(<h2>Privacy and usage policy</h2>)HTML"
    R"HTML({{#blocks}}{{#heading}}<h3>{{text}}</h3>{{/heading}}{{#para}}<p>{{text}}</p>{{/para}})HTML"
    R"HTML({{#list}}<ul>{{#lines}}<li>{{.}}</li>{{/lines}}</ul>{{/list}}{{/blocks}})HTML"
    R"HTML({{#has_contact}}<h3>Contact</h3><p>This directory is run by {{contact}}.</p>)HTML"
    R"HTML({{/has_contact}})HTML";

// /api: docs/api.md made HTML by pandoc at build time (the partial `api_doc`,
// a constant of the build: api/web/embed_html.cmake).
inline constexpr std::string_view kApi = R"HTML(<article class="doc">{{>api_doc}}</article>)HTML";

}  // namespace keydir::api::web::templates
