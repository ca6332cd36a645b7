#!/usr/bin/python3
"""probes figures, same run, same machine, against the lab's real Postfix, Dovecot and OpenDKIM:

1. Concurrency: 15 targets (14 real services + one that greets only after 2 s). Each run of the probes
   collector should take about the slowest target's time, not the sum: ratio = collector run duration /
   slowest probe duration, per run.
2. CPU per probe: the exporter probing Postfix's port 25 with STARTTLS (20 identical targets, interval 1s,
   process CPU over whole runs) against Debian's prometheus-blackbox-exporter doing the same STARTTLS
   dialog through /probe?module=smtp_starttls (process CPU over sequential probes).

    usage: tests/bench/probe_bench.py [--runs 8] [--seconds 30] [--blackbox-probes 600]
"""
import argparse
import os
import socket
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import lab as labmod  # noqa: E402
from blackbox_cpu import _cpu_ticks, blackbox_cpu_per_probe  # noqa: E402
from exporter_env import http, parse_metrics, sample  # noqa: E402

BIN = os.environ.get("MAILSTACK_EXPORTER_BIN", os.path.join(HERE, "..", "..", "build", "mailstack_exporter"))


def slow_smtp_server(delay):
    """An SMTP server that greets after `delay` seconds, then answers EHLO and QUIT."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)

    def serve(conn):
        with conn:
            time.sleep(delay)
            conn.sendall(b"220 slow.example.test ESMTP\r\n")
            f = conn.makefile("rb")
            for line in f:
                if line.upper().startswith(b"QUIT"):
                    conn.sendall(b"221 bye\r\n")
                    return
                conn.sendall(b"250 slow.example.test\r\n")

    def loop():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(c,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
    return srv


def start_exporter(lab, name, targets, interval, timeout):
    lines = ["defaults: {interval: %s, timeout: %s}" % (interval, timeout), "collectors:",
             "  filesystem: {enabled: false}", "  postfix_queue: {enabled: false}", "  probes:", "    targets:"]
    lines += ["      - " + t for t in targets]
    cfg = os.path.join(lab.root, name + ".yml")
    with open(cfg, "w") as f:
        f.write("\n".join(lines) + "\n")
    port = labmod.free_port()
    lab.start_process(name, [BIN, "--config.file=" + cfg, "--web.listen-address=127.0.0.1:%d" % port],
                      ready=lambda: http("http://127.0.0.1:%d/-/ready" % port, timeout=1)[0] == 200)
    return "http://127.0.0.1:%d/metrics" % port


def scrape(url):
    status, _, body = http(url)
    assert status == 200
    return parse_metrics(body)


def wait_new_run(url, last_ts, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        m = scrape(url)
        ts = sample(m, "mailstack_collector_last_success_timestamp_seconds", collector="probes")
        if ts is not None and ts != last_ts:
            return m, ts
        time.sleep(0.05)
    raise RuntimeError("no new probes run within %ss" % timeout)


def tls(name, proto, port, mode):
    return ("{name: %s, protocol: %s, address: '127.0.0.1:%d', tls: %s, server_name: %s, ca_file: %s}"
            % (name, proto, port, mode, labmod.MAIL_HOST, LAB.ca_cert))


def concurrency(runs):
    slow = slow_smtp_server(2.0)
    P = LAB.ports
    targets = [tls("smtp", "smtp", P["smtp"], "starttls"), tls("submission", "submission", P["submission"], "starttls"),
               tls("submissions", "submission", P["submissions"], "implicit"), tls("imap", "imap", P["imap"], "starttls"),
               tls("imaps", "imap", P["imaps"], "implicit"), tls("pop3", "pop3", P["pop3"], "starttls"),
               tls("pop3s", "pop3", P["pop3s"], "implicit"), tls("sieve", "sieve", P["sieve"], "starttls"),
               "{name: smtp_plain, protocol: smtp, address: '127.0.0.1:%d'}" % P["smtp"],
               "{name: imap_plain, protocol: imap, address: '127.0.0.1:%d'}" % P["imap"],
               "{name: pop3_plain, protocol: pop3, address: '127.0.0.1:%d'}" % P["pop3"],
               "{name: sieve_plain, protocol: sieve, address: '127.0.0.1:%d'}" % P["sieve"],
               "{name: milter, protocol: milter, address: '127.0.0.1:%d'}" % P["milter"],
               "{name: tcp, protocol: tcp, address: '127.0.0.1:%d'}" % P["fill"],
               "{name: slow, protocol: smtp, address: '127.0.0.1:%d'}" % slow.getsockname()[1]]
    assert len(targets) == 15
    url = start_exporter(LAB, "exporter-concurrency", targets, "5s", "4s")
    ratios, durations, slowest = [], [], []
    m, ts = wait_new_run(url, None)
    for _ in range(runs):
        m, ts = wait_new_run(url, ts)
        probes = {dict(k[1])["target"]: v for k, v in m.items() if k[0] == "mailstack_probe_duration_seconds"}
        ok = {dict(k[1])["target"]: v for k, v in m.items() if k[0] == "mailstack_probe_success"}
        bad = [t for t, v in ok.items() if v != 1]
        if bad:
            raise RuntimeError("probes failed in the benchmark: %s" % bad)
        run = sample(m, "mailstack_collector_duration_seconds", collector="probes")
        durations.append(run)
        slowest.append(max(probes.values()))
        ratios.append(run / max(probes.values()))
        sum_all = sum(probes.values())
    LAB.stop_process("exporter-concurrency")
    slow.close()
    return {"runs": runs, "run_s_median": statistics.median(durations), "slowest_probe_s_median":
            statistics.median(slowest), "sum_of_probes_s_last": sum_all,
            "ratio_median": statistics.median(ratios), "ratio_max": max(ratios)}


def cpu_per_probe(seconds, k=20):
    targets = [tls("smtp%d" % i, "smtp", LAB.ports["smtp"], "starttls") for i in range(k)]
    url = start_exporter(LAB, "exporter-cpu", targets, "1s", "900ms")
    pid = LAB.pid("exporter-cpu")
    hz = os.sysconf("SC_CLK_TCK")
    _, ts0 = wait_new_run(url, None)
    _, ts0 = wait_new_run(url, ts0)  # warm: trust store loaded, first handshakes done
    c0 = _cpu_ticks(pid)
    time.sleep(seconds)
    m, ts1 = wait_new_run(url, None)
    c1 = _cpu_ticks(pid)
    runs = round(ts1 - ts0)  # one run per second, drift-free, every run successful
    ok = sum(1 for k_, v in m.items() if k_[0] == "mailstack_probe_success" and v == 1)
    if ok != k:
        raise RuntimeError("only %d of %d probes succeeded" % (ok, k))
    LAB.stop_process("exporter-cpu")
    probes = runs * k
    return {"probes": probes, "cpu_s": (c1 - c0) / hz, "cpu_per_probe_s": (c1 - c0) / hz / probes}


def main():
    global LAB
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--blackbox-probes", type=int, default=600)
    args = ap.parse_args()
    LAB = labmod.Lab()
    try:
        LAB.start_opendkim()
        LAB.start_postfix()
        LAB.start_dovecot(sieve=True)
        c = concurrency(args.runs)
        print("concurrency: 15 targets, one greeting after 2 s, %d runs" % c["runs"])
        print("  collector run (median)      %.3f s" % c["run_s_median"])
        print("  slowest target (median)     %.3f s" % c["slowest_probe_s_median"])
        print("  sum of all targets (last)   %.3f s" % c["sum_of_probes_s_last"])
        print("  run / slowest target        median %.3fx  max %.3fx  (goal <= 1.1x)" % (c["ratio_median"],
                                                                                      c["ratio_max"]))
        ours = cpu_per_probe(args.seconds)
        theirs = blackbox_cpu_per_probe(LAB, args.blackbox_probes)
        print("CPU per SMTP STARTTLS probe of 127.0.0.1:25 (process utime+stime):")
        print("  mailstack_exporter          %.3f ms  (%d probes)" % (ours["cpu_per_probe_s"] * 1000, ours["probes"]))
        print("  blackbox_exporter           %.3f ms  (%d probes, success ratio %.2f)" % (
            theirs["cpu_per_probe_s"] * 1000, theirs["n"], theirs["success_ratio"]))
        print("  ratio                       %.2fx" % (ours["cpu_per_probe_s"] / theirs["cpu_per_probe_s"]))
    finally:
        LAB.stop_all()


if __name__ == "__main__":
    main()
