"""CPU cost per SMTP STARTTLS probe of prometheus-blackbox-exporter.

    python3 tests/bench/blackbox_cpu.py [N]     # starts a lab (Postfix only) and measures

Used by tests/bench/probe_bench.py for the same-run comparison.

blackbox_cpu_per_probe(lab, n) needs a Lab whose Postfix listens on 25.
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import lab as labmod  # noqa: E402

BLACKBOX = "prometheus-blackbox-exporter"

# Each `expect` reads lines until one matches (non-matching lines are skipped),
# so "^220 " steps over a multi-line "220-" greeting, "^250[ -]STARTTLS" finds
# the keyword anywhere in the multi-line EHLO reply (STARTTLS need not be the
# last line) and the following "^220 " skips the rest of the 250 lines.
# `send` appends only "\n": the "\r" makes the line end CRLF as SMTP requires.
MODULE_YAML = """\
modules:
  smtp_starttls:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      query_response:
        - expect: "^220 "
        - send: "EHLO prober.example.test\\r"
        - expect: "^250[ -]STARTTLS"
        - send: "STARTTLS\\r"
        - expect: "^220 "
        - starttls: true
        - send: "QUIT\\r"
        - expect: "^221 "
      tls_config:
        ca_file: {ca}
        server_name: {server_name}
"""


def _cpu_ticks(pid):
    with open("/proc/%d/stat" % pid, "rb") as f:
        d = f.read()
    fields = d[d.rindex(b")") + 2:].split()
    # fields[0] is field 3 (state): utime = field 14, stime = field 15
    return int(fields[11]) + int(fields[12])


def _metric(body, name):
    m = re.search(r"^%s(?:\{[^}]*\})? (\S+)$" % re.escape(name), body, re.M)
    return float(m.group(1)) if m else None


def start_blackbox(lab, server_name=labmod.MAIL_HOST, name="blackbox"):
    """Write the config and start blackbox on a free loopback port; returns base URL."""
    labmod.require(BLACKBOX)
    d = labmod._mkdir(os.path.join(lab.root, name), 0o755)
    cfg = os.path.join(d, "blackbox.yml")
    labmod._write(cfg, MODULE_YAML.format(ca=lab.ca_cert, server_name=server_name))
    port = labmod.free_port()
    labmod.ensure_port_free(port)
    url = "http://127.0.0.1:%d" % port
    lab.start_process(name, [BLACKBOX, "--config.file=%s" % cfg,
                             "--web.listen-address=127.0.0.1:%d" % port],
                      ready=lambda: labmod._http_get(url + "/-/healthy", 1)[0] == 200,
                      timeout=20)
    return url


def probe(url, target="127.0.0.1:25", module="smtp_starttls", timeout=10, debug=False):
    q = "%s/probe?module=%s&target=%s%s" % (url, module, target, "&debug=true" if debug else "")
    status, body = labmod._http_get(q, timeout)
    if status != 200:
        raise labmod.LabError("blackbox HTTP %d: %s" % (status, body[:500]))
    return body


def blackbox_cpu_per_probe(lab, n=300, warmup=20, target=None):
    """n sequential smtp_starttls probes against Postfix (127.0.0.1:25) through
    blackbox_exporter; returns dict(cpu_per_probe_s, wall_per_probe_s,
    success_ratio, ...).  CPU is utime+stime of the blackbox process."""
    target = target or "127.0.0.1:%d" % lab.ports["smtp"]
    url = start_blackbox(lab)
    pid = lab.pid("blackbox")
    try:
        body = probe(url, target)
        if _metric(body, "probe_success") != 1:
            raise labmod.LabError("first probe failed:\n%s" % probe(url, target, debug=True)[-4000:])
        for _ in range(warmup):
            probe(url, target)
        hz = os.sysconf("SC_CLK_TCK")
        ok = 0
        durations = []
        c0 = _cpu_ticks(pid)
        t0 = time.monotonic()
        for _ in range(n):
            body = probe(url, target)
            if _metric(body, "probe_success") == 1:
                ok += 1
            dur = _metric(body, "probe_duration_seconds")
            if dur is not None:
                durations.append(dur)
        wall = time.monotonic() - t0
        cpu = (_cpu_ticks(pid) - c0) / hz
        durations.sort()
        return {
            "n": n,
            "cpu_per_probe_s": cpu / n,
            "wall_per_probe_s": wall / n,
            "success_ratio": ok / n,
            "cpu_total_s": cpu,
            "wall_total_s": wall,
            "clk_tck": hz,
            "probe_duration_median_s": durations[len(durations) // 2] if durations else None,
            "rss_kb": _rss_kb(pid),
        }
    finally:
        lab.stop_process("blackbox")


def _rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None


def _wait_ports_free(ports, max_wait=1200):
    deadline = time.monotonic() + max_wait
    while True:
        busy = {p: labmod.port_busy(p) for p in ports}
        busy = {p: w for p, w in busy.items() if w}
        if not busy:
            return
        if time.monotonic() >= deadline:
            sys.exit("ports still busy after %ds: %s" % (max_wait, busy))
        print("ports busy, waiting 60 s: %s" % busy, file=sys.stderr)
        time.sleep(60)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    who = labmod.port_busy(9115)
    if who:
        print("NOTE: something else listens on 9115: %s (not ours, left alone)" % who)
    _wait_ports_free([25, 465, 587, 143, 993, 110, 995, 8891, 4190, 10025])
    lab = labmod.Lab()
    try:
        lab.start_postfix()
        # sanity: verification is really on -- a wrong server_name must fail
        url = start_blackbox(lab, server_name="wrong.example.test", name="blackbox-neg")
        neg = probe(url)
        print("wrong server_name -> probe_success", _metric(neg, "probe_success"))
        assert _metric(neg, "probe_success") == 0
        lab.stop_process("blackbox-neg")
        url = start_blackbox(lab)
        body = probe(url)
        for m in ("probe_success", "probe_duration_seconds", "probe_ssl_earliest_cert_expiry",
                  "probe_ssl_last_chain_expiry_timestamp_seconds"):
            print(m, _metric(body, m))
        print("\n".join(l for l in body.splitlines() if l.startswith("probe_tls_version_info")))
        lab.stop_process("blackbox")
        res = blackbox_cpu_per_probe(lab, n)
        for k, v in res.items():
            print("%s = %s" % (k, v))
    finally:
        lab.stop_all()


if __name__ == "__main__":
    main()
