#!/usr/bin/env python3
"""The build checks the plan: the layers of docs/architecture.md.

Reads every `#include "..."` of the sources and every target_link_libraries()
of the CMakeLists, maps files and targets to layers, and fails on an include
or a link that runs against the plan (ALLOWED below: each layer uses only
those under it), and on a third-party library linked by a layer that should
not know it (THIRD_PARTY). The exceptions that exist today are listed in
KNOWN, each with the step that removes it. An exception that no longer occurs
is an error too, so the list only shrinks.
    check_layers.py REPO_ROOT
"""
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else "."

# Folder → layer (the longest matching prefix wins).
FOLDERS = {
    "src/common": "common",
    "src/net": "net",
    "src/openpgp": "openpgp",
    "src/recon": "recon",
    "src/tlog": "tlog",
    "storage": "storage",
    "storage/rocksdb": "storage_rocksdb",
    "src/service": "service",
    "api": "api",
    "src/server": "server",
    "src/client": "client",
}
# The include prefix of each layer's headers.
PREFIXES = {
    "common/": "common",
    "net/": "net",
    "openpgp/": "openpgp",
    "recon/": "recon",
    "tlog/": "tlog",
    "storage/rocksdb/": "storage_rocksdb",
    "storage/": "storage",
    "service/": "service",
    "api/": "api",
    "server/": "server",
    "client/": "client",
}
# What each layer may use (besides itself).
ALLOWED = {
    "common": set(),
    "net": {"common"},
    "openpgp": {"common"},
    "recon": {"common"},
    "tlog": {"common", "openpgp"},
    "storage": {"common", "openpgp", "recon", "tlog"},
    "storage_rocksdb": {"common", "openpgp", "recon", "tlog", "storage"},
    "service": {"common", "net", "openpgp", "recon", "tlog", "storage"},
    "api": {"common", "openpgp", "tlog", "service"},
    "client": {"common", "net", "openpgp", "tlog"},
    "server": {"common", "net", "openpgp", "recon", "tlog", "storage", "storage_rocksdb", "service", "api"},
}
# CMake target → layer.
TARGETS = {
    "keydir_common": "common",
    "keydir_net": "net",
    "keydir_openpgp": "openpgp",
    "keydir_recon_tree": "recon",
    "keydir_recon": "recon",
    "keydir_tlog": "tlog",
    "keydir_storage": "storage",
    "keydir_storage_rocksdb": "storage_rocksdb",
    "keydir_service": "service",
    "keydir_api": "api",
    "keydir_http": "server",
    "keydir_secrets": "server",
    "keydir_reconpeer": "server",
    "keydir_server_config": "server",
    "keydird": "server",
    "keydir_client_lib": "client",
    "keydir": "client",
}
# Third-party libraries and the layers that may link them.
THIRD_PARTY = {
    "RocksDB::rocksdb": {"storage_rocksdb"},
    "rocksdb": {"storage_rocksdb"},
    "PkgConfig::PISTACHE": {"server"},
    "PkgConfig::CRYPTOPP": {"openpgp"},
    "OpenSSL::Crypto": {"openpgp", "server"},
    "CURL::libcurl": {"net"},
    "CLI11::CLI11": {"server", "client"},
}
# Today's exceptions: (kind, from, to) → the step of the plan that removes it.
KNOWN = {}
# Third-party headers: the folders that may include them. The crypto module
# (src/openpgp/crypto) owns OpenSSL and Crypto++, src/net owns libcurl, the
# RocksDB store its library, the server's HTTP adapter Pistache and the
# server side of TLS (its certificate and key files).
SYSTEM_HEADERS = {
    "openssl/": ("src/openpgp/crypto/", "src/server/tls_files.cpp"),
    "cryptopp/": ("src/openpgp/crypto/",),
    "curl/": ("src/net/",),
    "rocksdb/": ("storage/rocksdb/",),
    "pistache/": ("src/server/http_server.cpp",),
    "kainjow/": ("api/web/",),
}
KNOWN_SYSTEM = {}
SYSTEM_INCLUDE = re.compile(r'^\s*#\s*include\s+<([^>]+)>')

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of_path(path):
    best = None
    for folder, layer in FOLDERS.items():
        if path.startswith(folder + "/") and (best is None or len(folder) > len(best[0])):
            best = (folder, layer)
    return best[1] if best else None


def layer_of_include(header):
    for prefix, layer in PREFIXES.items():
        if header.startswith(prefix):
            return layer
    return None


def main():
    found = {}  # (kind, from, to) → first place
    for folder in FOLDERS:
        base = os.path.join(ROOT, folder)
        for dirpath, _, files in os.walk(base):
            for name in sorted(files):
                if not name.endswith((".cpp", ".hpp", ".h")):
                    continue
                path = os.path.relpath(os.path.join(dirpath, name), ROOT)
                layer = layer_of_path(path)
                with open(os.path.join(ROOT, path), errors="replace") as f:
                    for number, line in enumerate(f, 1):
                        sm = SYSTEM_INCLUDE.match(line)
                        if sm:
                            for prefix, allowed in SYSTEM_HEADERS.items():
                                if sm.group(1).startswith(prefix) and not path.startswith(allowed):
                                    found.setdefault(("system-header", path, prefix),
                                                     f"{path}:{number}: <{sm.group(1)}>")
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        to = layer_of_include(m.group(1))
                        if to and to != layer and to not in ALLOWED[layer]:
                            found.setdefault(("include", layer, to), f"{path}:{number}: {m.group(1)}")
    for dirpath, _, files in os.walk(ROOT):
        if "CMakeLists.txt" not in files or os.sep + "build" in dirpath or "/tests" in dirpath:
            continue
        path = os.path.join(dirpath, "CMakeLists.txt")
        text = open(path).read()
        # Include roots come from keydir_headers() only (cmake/KeydirLayers.cmake):
        # a root into the sources would let any target include any header.
        for m in re.finditer(r"(?:target_)?include_directories\(([^)]*)\)", text):
            if re.search(r"\$\{(PROJECT_SOURCE_DIR|CMAKE_SOURCE_DIR|CMAKE_CURRENT_SOURCE_DIR)\}", m.group(1)):
                found.setdefault(("include-root", os.path.relpath(path, ROOT), m.group(1).split()[0]),
                                 f"{os.path.relpath(path, ROOT)}: include_directories({m.group(1).strip()})")
        for m in re.finditer(r"target_link_libraries\(\s*([\w:]+)([^)]*)\)", text):
            layer = TARGETS.get(m.group(1))
            if layer is None:
                continue
            for dep in m.group(2).split():
                if dep in ("PUBLIC", "PRIVATE", "INTERFACE"):
                    continue
                where = f"{os.path.relpath(path, ROOT)}: {m.group(1)} -> {dep}"
                if dep in TARGETS:
                    to = TARGETS[dep]
                    if to != layer and to not in ALLOWED[layer]:
                        found.setdefault(("link", layer, to), where)
                elif dep in THIRD_PARTY and layer not in THIRD_PARTY[dep]:
                    found.setdefault(("third-party", layer, dep), where)
    errors = 0
    for key, where in sorted(found.items()):
        if key[0] == "include-root":
            print(f"FAIL   {where}: an include root into the sources; use keydir_headers()")
            errors += 1
        elif key[0] == "system-header":
            if key[1] in KNOWN_SYSTEM:
                print(f"known  {where}: to remove: {KNOWN_SYSTEM[key[1]]}")
            else:
                print(f"FAIL   {where}: only {', '.join(SYSTEM_HEADERS[key[2]])} may include "
                      f"<{key[2]}...>")
                errors += 1
        elif key in KNOWN:
            print(f"known  {key[0]} {key[1]} -> {key[2]} ({where}): to remove: {KNOWN[key]}")
        else:
            print(f"FAIL   {key[0]} {key[1]} -> {key[2]} runs against the plan: {where}")
            errors += 1
    seen_system = {k[1] for k in found if k[0] == "system-header"}
    for path in sorted(KNOWN_SYSTEM):
        if path not in seen_system:
            print(f"FAIL   {path} no longer includes a third-party header it may not: "
                  f"remove it from KNOWN_SYSTEM in tests/support/check_layers.py")
            errors += 1
    for key, why in sorted(KNOWN.items()):
        if key not in found:
            print(f"FAIL   the exception {key[0]} {key[1]} -> {key[2]} no longer occurs: "
                  f"remove it from KNOWN in tests/support/check_layers.py")
            errors += 1
    print(f"{len(found)} dependencies against the plan, {len(KNOWN)} known, {errors} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
