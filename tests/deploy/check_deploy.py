#!/usr/bin/env python3
"""The deployment files, checked against each other (no build needed).

    check_deploy.py SOURCE_DIR

Reads deploy/config/keydird.toml.example, deploy/nginx/keydir.conf,
deploy/systemd/keydird.service and, when they exist, debian/ (the package's
user, paths and conffile), deploy/docker/ (Dockerfile, compose.yaml,
keydird.toml) and cmake/KeydirInstall.cmake, and checks that they tell one
story: the port plan (keydird on 127.0.0.1:11372 behind nginx, nginx on
80/443/11371), the package's paths and user, /metrics never proxied to the
public, the unit's Documentation= naming installed files. What a file does
not hold yet (another part of the tree still to come) is skipped with a
"skip" line saying why; what it holds is checked. One "ok"/"FAIL" line per
check; exit 1 when one failed.
"""
import os
import re
import shlex
import sys
import tomllib

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
fails = 0

# The package's paths and user (the team's plan; debian/ is checked against them too).
SERVER = "/usr/sbin/keydird"
CONFIG = "/etc/keydir/keydird.toml"
DATA = "/var/lib/keydir"
USER = "keydir"
NGINX_PORTS = {80, 443, 11371}


def check(name, expected, actual):
    global fails
    if expected == actual:
        print(f"ok    {name}")
    else:
        print(f"FAIL  {name}: expected [{expected}], got [{actual}]")
        fails += 1


def skip(name, why):
    print(f"skip  {name}: {why}")


def path(*p):
    return os.path.join(ROOT, *p)


def read(*p):
    with open(path(*p), encoding="utf-8") as f:
        return f.read()


# --- nginx: a small parser of directives and blocks --------------------------
def nginx_parse(text):
    """[(name, [args], children or None)], comments dropped."""
    tokens = re.findall(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|[{};]|[^\s{};]+', re.sub(r"(?m)#.*$", "", text))
    pos = 0

    def block():
        nonlocal pos
        out, words = [], []
        while pos < len(tokens):
            t = tokens[pos]
            pos += 1
            if t == ";":
                out.append((words[0], words[1:], None))
                words = []
            elif t == "{":
                children = block()
                out.append((words[0], words[1:], children))
                words = []
            elif t == "}":
                return out
            else:
                words.append(t.strip("\"'") if t[0] in "\"'" else t)
        return out

    return block()


def directives(block, name):
    return [d for d in block if d[0] == name]


def listen_port(args):
    addr = args[0]
    return int(addr.rsplit(":", 1)[-1] if not addr.isdigit() else addr)


# --- the configuration example -------------------------------------------------
config = tomllib.loads(read("deploy", "config", "keydird.toml.example"))
listen = config.get("listen")
check("config example: keydird listens on 127.0.0.1:11372 (behind nginx)", "127.0.0.1:11372", listen)
check("config example: nginx on loopback is a trusted proxy", True, "127.0.0.1" in config.get("trusted-proxy", []))
check("config example: data folder is the package's", DATA, config.get("data"))
for entry in config.get("metrics-allow", []):
    check(f"config example: metrics-allow {entry} is no public catch-all", False,
          entry.split("/")[-1] in ("0",) or entry in ("0.0.0.0", "::"))

# --- nginx ---------------------------------------------------------------------
nginx = nginx_parse(read("deploy", "nginx", "keydir.conf"))
upstreams = [d for d in directives(nginx, "upstream") if d[1] == ["keydird"]]
check("nginx: one upstream keydird", 1, len(upstreams))
upstream_servers = [d[1][0] for d in directives(upstreams[0][2], "server")] if upstreams else []
check("nginx: upstream == the config's listen", [listen], upstream_servers)
servers = directives(nginx, "server")
by_port = {}
for s in servers:
    for lst in directives(s[2], "listen"):
        by_port.setdefault(listen_port(lst[1]), []).append((lst[1], s))
check("nginx listens on 80, 443 and 11371", sorted(NGINX_PORTS), sorted(by_port))
for port in sorted(NGINX_PORTS & set(by_port)):
    addrs = sorted(a[0] for a, _ in by_port[port])
    check(f"nginx: port {port} on IPv4 and IPv6", sorted([f"[::]:{port}", str(port)]), addrs)
tls = [s for a, s in by_port.get(443, [])]
check("nginx: 443 is TLS", True, bool(tls) and all("ssl" in a for a, _ in by_port[443]))
names = set()
for s in tls:
    for d in directives(s[2], "server_name"):
        names.update(d[1])
check("nginx: 443 serves keys.example.org and openpgpkey.example.org (WKD advanced)", True,
      {"keys.example.org", "openpgpkey.example.org"} <= names)
if tls:
    check("nginx: 443 has a certificate and key", True,
          bool(directives(tls[0][2], "ssl_certificate")) and bool(directives(tls[0][2], "ssl_certificate_key")))


def locations(server):
    return {tuple(d[1]): d[2] for d in directives(server[2], "location")}


plain = [s for _, s in by_port.get(80, [])]
if plain:
    locs = locations(plain[0])
    acme = locs.get(("/.well-known/acme-challenge/",))
    check("nginx: port 80 serves ACME challenges from /var/www/acme", ["/var/www/acme"],
          [d[1][0] for d in directives(acme or [], "root")])
    rest = locs.get(("/",), [])
    check("nginx: port 80 moves everything else to https (301)", [["301", "https://$host$request_uri"]],
          [d[1] for d in directives(rest, "return")])
    check("nginx: port 80 proxies nothing", [], [k for s in plain for k, v in locations(s).items()
                                                 if directives(v, "proxy_pass")])

for s in servers:
    ports = sorted({listen_port(d[1]) for d in directives(s[2], "listen")})
    locs = locations(s)
    proxied = {k: v for k, v in locs.items() if directives(v, "proxy_pass")}
    if not proxied:
        continue
    metrics = locs.get(("=", "/metrics"))
    check(f"nginx: port {ports} answers /metrics 404 itself", [["404"]],
          [d[1] for d in directives(metrics or [], "return")])
    for key, body in proxied.items():
        check(f"nginx: port {ports} location {' '.join(key)} proxies to the upstream", ["http://keydird"],
              [d[1][0] for d in directives(body, "proxy_pass")])
        xff = [d[1] for d in directives(body, "proxy_set_header") if d[1][0].lower() == "x-forwarded-for"]
        check(f"nginx: port {ports} location {' '.join(key)} sets X-Forwarded-For (trusted-proxy judges by it)",
              [["X-Forwarded-For", "$proxy_add_x_forwarded_for"]], xff)

# --- the systemd unit ----------------------------------------------------------
unit = {}
for line in read("deploy", "systemd", "keydird.service").splitlines():
    line = line.strip()
    if line and not line.startswith(("#", ";", "[")) and "=" in line:
        k, v = line.split("=", 1)
        unit.setdefault(k.strip(), []).append(v.strip())
argv = shlex.split(unit.get("ExecStart", [""])[0])
check("unit: ExecStart runs the packaged server", SERVER, argv[0] if argv else "")
check("unit: ExecStart serves", "serve", argv[1] if len(argv) > 1 else "")
opts = dict(zip(argv[2::2], argv[3::2]))
check("unit: --config is the package's conffile", CONFIG, opts.get("--config"))
check("unit: --data is the package's data folder (and the config example's)", (DATA, DATA),
      (opts.get("--data"), config.get("data")))
check("unit: User", [USER], unit.get("User"))
check("unit: Group", [USER], unit.get("Group"))
check("unit: no DynamicUser (the group reads the config)", None, unit.get("DynamicUser"))
state = " ".join(unit.get("StateDirectory", [])).split()
check("unit: StateDirectory is the data folder", True, bool(state) and "/var/lib/" + state[0] == DATA)
check("unit: StateDirectoryMode 0700", ["0700"], unit.get("StateDirectoryMode"))
check("unit: ConfigurationDirectory holds the config", ["keydir"], unit.get("ConfigurationDirectory"))
rw = " ".join(unit.get("ReadWritePaths", [])).split()
check("unit: writable paths are its state directories", sorted("/var/lib/" + d for d in state), sorted(rw))
docs = " ".join(unit.get("Documentation", [])).split()
check("unit: Documentation names the man page", True, "man:keydird(8)" in docs)
files = [d[len("file://"):] for d in docs if d.startswith("file://")]
check("unit: Documentation names an installed document", True, bool(files))
check("unit: Documentation has no external address", [], [d for d in docs if d.startswith("http")])
install = read("cmake", "KeydirInstall.cmake") if os.path.exists(path("cmake", "KeydirInstall.cmake")) else None
rules = read("debian", "rules") if os.path.exists(path("debian", "rules")) else None
for f in files:
    m = re.fullmatch(r"/usr/share/doc/keydir/docs/([^/]+)\.md", f)
    check(f"unit: {f} is a docs/*.md file", True, bool(m) and os.path.exists(path("docs", m.group(1) + ".md")))
    if install is None:
        skip(f"unit: {f} installed", "cmake/KeydirInstall.cmake is not there yet")
    else:
        check(f"unit: {f}: cmake --install puts docs/*.md in share/doc/keydir/docs", True,
              "docs/*.md" in install and "${CMAKE_INSTALL_DOCDIR}/docs" in install)
    if rules is None:
        skip(f"unit: {f} not compressed by the package", "debian/rules is not there yet")
    else:
        check(f"unit: {f} stays uncompressed in the package (dh_compress -X.md)", True,
              re.search(r"dh_compress\b.*-X\s*\.md", rules) is not None)

# --- the Debian package (debian/) ---------------------------------------------
sysusers = [f for f in os.listdir(path("debian")) if "sysusers" in f] if os.path.isdir(path("debian")) else []
if not os.path.isdir(path("debian")):
    skip("debian: user, paths, conffile", "no debian/ in this tree")
else:
    if sysusers:
        users = re.findall(r"(?m)^u\s+(\S+)(?:\s+\S+\s+(?:\"[^\"]*\"|\S+)\s+(\S+))?", read("debian", sysusers[0]))
        check("debian: the sysusers user is the unit's User", [USER], [u[0] for u in users])
        check("debian: the sysusers user's home is the data folder", [DATA], [u[1] for u in users])
    elif os.path.exists(path("debian", "keydird.postinst")):
        check("debian: the postinst makes the unit's user", True,
              re.search(rf"(adduser|useradd)\b.*\b{USER}\b", read("debian", "keydird.postinst")) is not None)
    else:
        skip("debian: system user", "neither debian/*sysusers* nor debian/keydird.postinst")
    if os.path.exists(path("debian", "keydird.postinst")):
        postinst = read("debian", "keydird.postinst")
        check("debian: the config is root:keydir 0640 (the unit's Group reads it)", True,
              re.search(rf"root\s+{USER}\s+0?640\s+{re.escape(CONFIG)}", postinst) is not None)
        check("debian: the postinst makes the data folder 0700 keydir:keydir", True,
              re.search(rf"-m\s+0?700\s+-o\s+{USER}\s+-g\s+{USER}\s+{re.escape(DATA)}", postinst) is not None)
    installed = []
    for f in os.listdir(path("debian")):
        if f.endswith(".install"):
            installed += [l.split()[0] for l in read("debian", f).splitlines() if l.strip() and not l.startswith("#")]
    for want in (SERVER, CONFIG, "/lib/systemd/system/keydird.service"):
        check(f"debian: the package installs {want}", True, want.lstrip("/") in installed)
    if rules is not None:
        check("debian: the packaged config is the example", True,
              "keydird.toml.example" in rules and "etc/keydir/keydird.toml" in rules)

# --- the container files (deploy/docker/) -------------------------------------
docker = path("deploy", "docker")
if os.path.exists(os.path.join(docker, "Dockerfile")):
    text = read("deploy", "docker", "Dockerfile")
    final = text[[m.start() for m in re.finditer(r"(?m)^FROM\b", text)][-1]:]
    joined = re.sub(r"\\\n", " ", final)
    entry = "".join(re.findall(r"(?m)^ENTRYPOINT\s+(.*)$", joined))
    check("Dockerfile: runs the packaged server", True, SERVER in entry)
    check("Dockerfile: with the package's config", True, f"--config {CONFIG}" in entry)
    check("Dockerfile: with the package's data folder", True, f"--data {DATA}" in entry)
    check("Dockerfile: the volume is the data folder", [DATA], re.findall(r"(?m)^VOLUME\s+\[?\"?([^\s\"\]]+)", joined))
    check("Dockerfile: runs as the package's user", [USER], re.findall(r"(?m)^USER\s+(\S+)", joined))
    env_listen = re.findall(r"(?m)^ENV\s+KEYDIR_LISTEN=(\S+)", joined)
    flag_listen = re.findall(r"--listen\s+(\d[\d.]*:\d+)", entry)
    check("Dockerfile: listens where the config example does", [listen], env_listen or flag_listen)
    exposed = [int(p.split("/")[0]) for e in re.findall(r"(?m)^EXPOSE\s+(.*)$", joined) for p in e.split()]
    check("Dockerfile: exposes the listen port", True, int(listen.rsplit(":", 1)[1]) in exposed)
else:
    skip("Dockerfile", "deploy/docker/Dockerfile is not there")

compose_path = os.path.join(docker, "compose.yaml")
if os.path.exists(compose_path):
    try:
        import yaml
    except ImportError:
        yaml = None
    if yaml is None:
        skip("compose.yaml", "python3-yaml is not installed (apt-get install python3-yaml)")
    else:
        compose = yaml.safe_load(read("deploy", "docker", "compose.yaml"))
        services = compose.get("services", {})

        def mounts(svc):
            out = {}
            for v in svc.get("volumes", []):
                if isinstance(v, str):
                    parts = v.split(":")
                    out[parts[1]] = parts[0]
                else:
                    out[v["target"]] = v.get("source")
            return out

        front = [n for n, s in services.items()
                 if any(src and src.endswith("nginx/keydir.conf") for src in mounts(s).values())]
        check("compose: one service runs deploy/nginx/keydir.conf", 1, len(front))
        back = [n for n, s in services.items() if n not in front and DATA in mounts(s)]
        check("compose: one keydird service with the data folder as a volume", 1, len(back))
        if front:
            published = set()
            for p in services[front[0]].get("ports", []):
                spec = str(p if not isinstance(p, dict) else p["target"])
                published.add(int(spec.split(":")[-1].split("/")[0]))
            check("compose: nginx publishes 80, 443 and 11371", sorted(NGINX_PORTS), sorted(published))
            check("compose: the ACME webroot is mounted", True, "/var/www/acme" in mounts(services[front[0]]))
        if back:
            k = services[back[0]]
            check("compose: keydird reads the package's config path", True, CONFIG in mounts(k))
            env = k.get("environment", {})
            if isinstance(env, list):
                env = dict(e.split("=", 1) for e in env)
            check("compose: keydird listens where nginx's upstream is", listen, env.get("KEYDIR_LISTEN", listen))
            check("compose: keydird publishes no port of its own", [], k.get("ports", []))
            if listen.startswith("127."):
                check("compose: keydird on loopback shares nginx's network", f"service:{front[0] if front else ''}",
                      k.get("network_mode"))
            src = mounts(k).get(CONFIG)
            if src and os.path.exists(os.path.join(docker, src)):
                with open(os.path.join(docker, src), "rb") as f:
                    cfg = tomllib.load(f)
                check(f"compose: {src} trusts nginx on loopback", True, "127.0.0.1" in cfg.get("trusted-proxy", []))
                check(f"compose: {src} listens where nginx's upstream is", listen, cfg.get("listen", listen))
                check(f"compose: {src} keeps the data folder on the volume", DATA, cfg.get("data", DATA))
else:
    skip("compose.yaml", "deploy/docker/compose.yaml is not there")

if fails:
    print(f"{fails} check(s) failed")
    sys.exit(1)
print("the deployment files agree")
