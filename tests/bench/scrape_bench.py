#!/usr/bin/python3
"""Idle RSS and CPU per /metrics request of mailstack_exporter against Debian's
prometheus-postfix-exporter, measured in the same run on the same machine.

Both scrape a real Postfix started by the lab harness (the baseline reads its
showq socket and mail log, as it does in production). Each exporter is idle
for a few seconds, then its RSS is read (VmRSS), then N sequential /metrics
requests are made and the process's CPU time (utime+stime from /proc) is
divided by N.

    usage: tests/bench/scrape_bench.py [--requests N] [--bin build/mailstack_exporter]
"""
import argparse
import os
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import lab as labmod  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14, 15)


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def measure(name, pid, url, requests, idle):
    time.sleep(idle)
    rss = rss_bytes(pid)
    body = urllib.request.urlopen(url, timeout=10).read()
    for _ in range(20):  # warm-up
        urllib.request.urlopen(url, timeout=10).read()
    c0 = cpu_seconds(pid)
    t0 = time.monotonic()
    for _ in range(requests):
        urllib.request.urlopen(url, timeout=10).read()
    wall = time.monotonic() - t0
    cpu = cpu_seconds(pid) - c0
    return {"name": name, "rss": rss, "cpu_us": cpu / requests * 1e6, "bytes": len(body),
            "wall_us": wall / requests * 1e6}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--idle", type=float, default=5.0)
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "..", "build", "mailstack_exporter"))
    args = ap.parse_args()

    lab = labmod.Lab()
    try:
        lab.start_postfix()
        ours_port, base_port = labmod.free_port(), labmod.free_port()
        cfg = os.path.join(lab.root, "bench.yml")
        with open(cfg, "w") as f:
            # What the baseline does (queue from showq) plus what it cannot (disk, services).
            f.write("collectors:\n  filesystem:\n    paths: [/, %s, /var/mail]\n"
                    "  postfix_queue:\n    instances:\n      - {name: postfix, showq: %s}\n"
                    "  services:\n    processes: {postfix: master}\n" % (lab.queue_directory, lab.showq_socket))
        ours = lab.start_process("mailstack_exporter", [
            os.path.abspath(args.bin), "--config.file=" + cfg, "--web.listen-address=127.0.0.1:%d" % ours_port,
            "--log.level=warn"], ready=lambda: labmod.port_listening(ours_port))
        base = lab.start_process("postfix_exporter", [
            "prometheus-postfix-exporter", "--web.listen-address=127.0.0.1:%d" % base_port,
            "--postfix.showq_path=" + lab.showq_socket, "--postfix.logfile_path=" + lab.maillog],
            ready=lambda: labmod.port_listening(base_port))
        results = [
            measure("prometheus-postfix-exporter", base.pid, "http://127.0.0.1:%d/metrics" % base_port,
                    args.requests, args.idle),
            measure("mailstack_exporter", ours.pid, "http://127.0.0.1:%d/metrics" % ours_port,
                    args.requests, args.idle),
        ]
    finally:
        lab.stop_all()
    print("%-30s %12s %16s %14s %12s" % ("exporter", "idle RSS", "CPU/request", "wall/request", "body"))
    for r in results:
        print("%-30s %9.2f MB %13.1f us %11.1f us %9d B" % (r["name"], r["rss"] / 1e6, r["cpu_us"],
                                                            r["wall_us"], r["bytes"]))
    base, ours = results
    print("ratio mailstack/postfix_exporter: idle RSS %.2fx, CPU per request %.3fx"
          % (ours["rss"] / base["rss"], ours["cpu_us"] / base["cpu_us"]))


if __name__ == "__main__":
    main()
