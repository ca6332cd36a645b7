#!/usr/bin/python3
"""dns collector figure, same run, same machine: four domains x all records + three blocklists against the
lab's real nsd, through a UDP proxy that delays every query of one zone (slow.test) by --delay-ms.

- one collector run (mailstack_collector_duration_seconds{collector="dns"}, median of --runs runs)
- the slowest single query (dig through the same proxy, a name in the delayed zone)
- a sequential `dig` loop over exactly the names and types the collector asked (recorded by the proxy)
ratio = run / slowest single query (goal <= 1.5x).

    usage: tests/bench/dns_bench.py [--runs 5] [--delay-ms 300]
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import lab as labmod  # noqa: E402
from exporter_env import http, parse_metrics, sample  # noqa: E402

BIN = os.environ.get("MAILSTACK_EXPORTER_BIN", os.path.join(HERE, "..", "..", "build", "mailstack_exporter"))
QTYPES = {1: "A", 28: "AAAA", 15: "MX", 16: "TXT", 12: "PTR"}


def qname(packet):
    """(name, type) of the question of a DNS query packet."""
    i, labels = 12, []
    while i < len(packet) and packet[i] != 0:
        n = packet[i]
        labels.append(packet[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    qtype = int.from_bytes(packet[i + 1:i + 3], "big") if i + 3 <= len(packet) else 0
    return ".".join(labels).lower(), QTYPES.get(qtype, str(qtype))


class DelayProxy(threading.Thread):
    """UDP DNS proxy to `upstream`; answers for names under `slow_zone` are held back `delay` seconds."""

    def __init__(self, upstream, slow_zone, delay):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.upstream, self.slow_zone, self.delay = upstream, slow_zone, delay
        self.seen = []
        self.start()

    def run(self):
        while True:
            data, client = self.sock.recvfrom(4096)
            threading.Thread(target=self.forward, args=(data, client), daemon=True).start()

    def forward(self, data, client):
        name, qtype = qname(data)
        self.seen.append((name, qtype))
        up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        up.settimeout(5)
        try:
            up.sendto(data, self.upstream)
            answer, _ = up.recvfrom(65535)
        except OSError:
            return
        finally:
            up.close()
        if name == self.slow_zone or name.endswith("." + self.slow_zone):
            time.sleep(self.delay)
        self.sock.sendto(answer, client)


def zones(lab):
    z = lab.default_zones()
    for dom, ip in (("slow.test", "127.0.0.3"), ("other.test", "127.0.0.4")):
        z[dom] = """\
@               A       {ip}
mail            A       {ip}
@               MX      10 mail.{dom}.
@               TXT     "v=spf1 ip4:{ip} -all"
_dmarc          TXT     "v=DMARC1; p=quarantine; rua=mailto:dmarc@{dom}"
_mta-sts        TXT     "v=STSv1; id=20240101000000"
_smtp._tls      TXT     "v=TLSRPTv1; rua=mailto:tlsrpt@{dom}"
""".format(dom=dom, ip=ip) + lab.dkim_txt_record()
    for extra in ("bl2.test", "bl3.test"):
        z[extra] = "2.0.0.127       A       127.0.0.2\n"
    z["127.in-addr.arpa"] += "3.0.0           PTR     mail.slow.test.\n4.0.0           PTR     mail.other.test.\n"
    return z


def dig_ms(port, name, qtype):
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+tries=1", "+time=5", "+norecurse", name, qtype],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "Query time:" in line:
            return float(line.split("Query time:")[1].split()[0])
    raise RuntimeError("dig %s %s: no answer\n%s" % (name, qtype, out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--delay-ms", type=int, default=300)
    args = ap.parse_args()
    lab = labmod.Lab()
    try:
        lab.ensure_dkim_key()
        lab.start_nsd(zones(lab))
        proxy = DelayProxy(("127.0.0.1", lab.ports["dns"]), "slow.test", args.delay_ms / 1000.0)
        domains = [("example.test", "127.0.0.1"), ("broken.test", "127.0.0.2"), ("slow.test", "127.0.0.3"),
                   ("other.test", "127.0.0.4")]
        lines = ["defaults: {interval: 5s, timeout: 4s}", "collectors:", "  filesystem: {enabled: false}",
                 "  postfix_queue: {enabled: false}", "  dns:", "    resolver: '127.0.0.1:%d'" % proxy.port,
                 "    domains:"]
        for dom, ip in domains:
            lines.append("      - {domain: %s, mail_host: mail.%s, ips: [%s], dkim: [{selector: mail}]}" % (dom, dom, ip))
        lines.append("    dnsbl: {zones: [bl.test, bl2.test, bl3.test]}")
        cfg = os.path.join(lab.root, "dns-bench.yml")
        with open(cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        port = labmod.free_port()
        url = "http://127.0.0.1:%d/metrics" % port
        lab.start_process("exporter", [BIN, "--config.file=" + cfg, "--web.listen-address=127.0.0.1:%d" % port],
                          ready=lambda: http(url.replace("/metrics", "/-/ready"), timeout=1)[0] == 200)
        durations, last, window = [], None, []
        while len(durations) < args.runs + 1:
            m = parse_metrics(http(url)[2])
            ts = sample(m, "mailstack_collector_last_success_timestamp_seconds", collector="dns")
            if ts and ts != last:
                if last is not None:  # skip the first run (cold start)
                    durations.append(sample(m, "mailstack_collector_duration_seconds", collector="dns"))
                last = ts
                window = list(proxy.seen)  # the queries of the run that just ended
                proxy.seen.clear()
            time.sleep(0.05)
        names = sorted(set(window))
        run_s = statistics.median(durations)
        slowest_ms = max(dig_ms(proxy.port, "slow.test", "TXT") for _ in range(3))
        t0 = time.monotonic()
        for name, qtype in names:
            dig_ms(proxy.port, name, qtype)
        seq_s = time.monotonic() - t0
        print("dns: 4 domains x all records + 3 blocklists, one zone delayed %d ms, %d runs" % (args.delay_ms,
                                                                                            len(durations)))
        print("  distinct queries per run             %d" % len(names))
        print("  collector run (median)               %.3f s  (min %.3f, max %.3f)" % (run_s, min(durations),
                                                                                    max(durations)))
        print("  slowest single query (dig)           %.3f s" % (slowest_ms / 1000))
        print("  sequential dig over the same names   %.3f s" % seq_s)
        print("  run / slowest single query           %.2fx  (goal <= 1.5x)" % (run_s / (slowest_ms / 1000)))
        print("  run / sequential dig loop            %.3fx" % (run_s / seq_s))
    finally:
        lab.stop_all()


if __name__ == "__main__":
    main()
