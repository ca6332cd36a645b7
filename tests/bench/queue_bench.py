#!/usr/bin/python3
"""postfix_queue figures, same run, same machine:

1. A real 10,000-message queue (9,000 deferred + 1,000 held) in the lab's Postfix: one collector run in
   showq mode and in spool mode, against `postqueue -p | tail -1` (median of N runs each).
   Also the CPU time showq itself spent serving each client (from /proc/PID/schedstat): how the reader
   reads changes the load it puts on Postfix (see ReadUntilEof in collectors/net/socket.cc).
2. A 100,000-message showq stream (the real 10,000-message stream recorded, its messages repeated 10
   times) replayed from disk: RSS of the collecting process before and after.

    usage: tests/bench/queue_bench.py [--runs 15] [--one-cpu] [--bench build/tests/bench/queue_bench]

--one-cpu pins Postfix (master and every process it starts, showq included) and both clients to CPU 0,
as on a 1-CPU VPS.
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import lab as labmod  # noqa: E402


def showq_pids():
    out = subprocess.run(["pgrep", "-x", "showq"], capture_output=True, text=True).stdout
    return sorted(int(p) for p in out.split())


def showq_cpu_ns():
    """{pid: CPU ns} of the running showq processes."""
    cpu = {}
    for pid in showq_pids():
        try:
            with open("/proc/%d/schedstat" % pid) as f:
                cpu[pid] = int(f.read().split()[0])
        except OSError:
            pass
    return cpu


def showq_cpu_ms(before, after):
    """CPU showq spent between two showq_cpu_ns() snapshots; None when a showq process came or went."""
    if sorted(before) != sorted(after):
        return None
    return sum(after[p] - before[p] for p in after) / 1e6


def pin_postfix(lab):
    for pid in [lab._postfix_master_pid()] + showq_pids():
        subprocess.run(["taskset", "-a", "-p", "-c", "0", str(pid)], capture_output=True, check=True)


def bench(binary, *args):
    out = subprocess.run((binary if isinstance(binary, list) else [binary]) + list(args), capture_output=True, text=True, check=True).stdout
    return dict(kv.split("=", 1) for kv in out.split())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--one-cpu", action="store_true")
    ap.add_argument("--bench", default=os.path.join(HERE, "..", "..", "build", "tests", "bench", "queue_bench"))
    args = ap.parse_args()
    lab = labmod.Lab()
    try:
        lab.start_postfix()
        lab.fill_queue(9000, 1000, size=1024)
        lab.wait_queue({"deferred": 9000, "hold": 1000, "active": 0, "incoming": 0}, timeout=300)
        pin = ""
        if args.one_cpu:
            pin_postfix(lab)
            pin = "taskset -c 0 "
        showq_cpu = {"postqueue": [], "showq": []}
        # Interleaved, so drift in machine load hits all three alike. Each sample is one process: postqueue
        # (forked by a shell, piped to tail) or queue_bench doing one collector run; times are wall clock.
        postqueue, showq_ms, spool_ms, showq_run, spool_run, spool_warm = [], [], [], [], [], []
        for _ in range(args.runs):
            if args.one_cpu:
                pin_postfix(lab)  # a showq process master started since
            cpu0 = showq_cpu_ns()
            t0 = time.monotonic()
            out = subprocess.run("%spostqueue -c %s -p | %stail -1" % (pin, lab.config_dir, pin), shell=True,
                                 capture_output=True, text=True, check=True).stdout
            postqueue.append((time.monotonic() - t0) * 1000)
            showq_cpu["postqueue"].append(showq_cpu_ms(cpu0, showq_cpu_ns()))
            cpu0 = showq_cpu_ns()
            t0 = time.monotonic()
            showq = bench(pin.split() + [args.bench], "--showq", lab.showq_socket, "--runs", "1")
            showq_ms.append((time.monotonic() - t0) * 1000)
            showq_cpu["showq"].append(showq_cpu_ms(cpu0, showq_cpu_ns()))
            showq_run.append(float(showq["median_ms"]))
            t0 = time.monotonic()
            spool = bench(pin.split() + [args.bench], "--spool", lab.queue_directory, "--runs", "3")
            spool_ms.append((time.monotonic() - t0) * 1000)
            spool_run.append(float(spool["first_ms"]))
            spool_warm.append(float(spool["later_median_ms"]))
        # Record the real stream and build a 100,000-message one from it.
        s = socket.socket(socket.AF_UNIX)
        s.connect(lab.showq_socket)
        data = b""
        while True:
            d = s.recv(1 << 16)
            if not d:
                break
            data += d
        s.close()
        header = b"protocol\0mail_queue_list_protocol\0\0"
        assert data.startswith(header) and data.endswith(b"\0\0")
        body = data[len(header):-1]
        path = os.path.join(lab.root, "showq-100k.bin")
        with open(path, "wb") as f:
            f.write(header)
            for _ in range(10):
                f.write(body)
            f.write(b"\0")
        replay = bench([args.bench], "--replay", path, "--runs", "3")
    finally:
        lab.stop_all()
    pq = statistics.median(postqueue)
    print("10,000 queued messages (%s counted), %d interleaved rounds%s, medians of wall time per process:" % (
        showq["messages"], args.runs, ", everything on CPU 0" if args.one_cpu else ""))
    print("  postqueue -p | tail -1: %.1f ms (%s)" % (pq, out.strip()))
    print("  showq mode: collector run %.1f ms = %.2fx postqueue; whole process %.1f ms = %.2fx" % (
        statistics.median(showq_run), statistics.median(showq_run) / pq, statistics.median(showq_ms),
        statistics.median(showq_ms) / pq))
    cpu = {k: [x for x in v if x is not None] for k, v in showq_cpu.items()}
    if cpu["postqueue"] and cpu["showq"]:
        print("  CPU showq spent serving the client: %.1f ms for postqueue, %.1f ms for the collector = %.2fx "
              "(%d/%d samples)" % (statistics.median(cpu["postqueue"]), statistics.median(cpu["showq"]),
                                   statistics.median(cpu["showq"]) / statistics.median(cpu["postqueue"]),
                                   len(cpu["postqueue"]), len(cpu["showq"])))
    print("  spool mode: first (cold) run %.1f ms = %.2fx postqueue; later runs %.1f ms = %.2fx" % (
        statistics.median(spool_run), statistics.median(spool_run) / pq, statistics.median(spool_warm),
        statistics.median(spool_warm) / pq))
    print("100,000-message stream (%d bytes, %s messages): RSS %s KB before, %s KB after, growth %d KB (peak %s KB)" % (
        os.path.getsize(path) if os.path.exists(path) else 0, replay["messages"], replay["rss_before_kb"],
        replay["rss_after_kb"], int(replay["rss_after_kb"]) - int(replay["rss_before_kb"]), replay["rss_peak_kb"]))


if __name__ == "__main__":
    main()
