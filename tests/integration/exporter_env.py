"""Shared set-up for integration tests that run the real mailstack_exporter.

The binary is $MAILSTACK_EXPORTER_BIN (set by ctest) or build/mailstack_exporter.
"""
import os
import subprocess
import time
import urllib.error
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("MAILSTACK_EXPORTER_BIN", os.path.join(REPO, "build", "mailstack_exporter"))


def http(url, method="GET", timeout=10):
    """(status, headers dict with lower-case names, body str); status 0 if the connection failed."""
    req = urllib.request.Request(url, method=method, data=b"" if method in ("POST", "PUT") else None)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, {}, ""


def parse_metrics(text):
    """{(name, frozenset(labels.items())): value} from exposition text (no escapes in our test labels)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, _, value = line.rpartition(" ")
        labels = {}
        if "{" in name_labels:
            name, _, rest = name_labels.partition("{")
            for part in rest.rstrip("}").split('",'):
                if part:
                    k, _, v = part.partition('="')
                    labels[k] = v.rstrip('"')
        else:
            name = name_labels
        out[(name, frozenset(labels.items()))] = float(value)
    return out


def sample(metrics, metric, /, **labels):
    return metrics.get((metric, frozenset(labels.items())))


def wait(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


def run(argv, timeout=30):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


FAKE_SYSTEMD = os.environ.get("FAKE_SYSTEMD_BIN", os.path.join(REPO, "build", "tests", "fake_systemd"))


def start_fake_systemd(lab, bus, state_file):
    """A private dbus-daemon at `bus` (unless running) and the fake org.freedesktop.systemd1 on it, answering
    from `state_file` (see tests/support/fake_systemd.cc). Returns the env for processes that use it."""
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=" + bus)
    if not lab.pid("dbus-daemon"):
        if os.path.exists(bus):
            os.unlink(bus)
        # It prints its address once it listens (the socket file exists from bind(), a moment earlier).
        dbus_log = os.path.join(lab.log_dir, "dbus-daemon.out")
        seen_addresses = 0
        if os.path.exists(dbus_log):
            with open(dbus_log) as f:
                seen_addresses = f.read().count("unix:path=" + bus)

        def dbus_ready():
            with open(dbus_log) as f:
                return f.read().count("unix:path=" + bus) > seen_addresses
        lab.start_process("dbus-daemon", ["dbus-daemon", "--session", "--address=unix:path=" + bus, "--nofork",
                                          "--nopidfile", "--print-address"], log=dbus_log, ready=dbus_ready)
    log = os.path.join(lab.root, "log", "fake_systemd.out")
    seen = 0
    if os.path.exists(log):
        with open(log) as f:
            seen = f.read().count("fake_systemd: ready")

    def ready():
        with open(log) as f:
            return f.read().count("fake_systemd: ready") > seen
    lab.start_process("fake_systemd", [FAKE_SYSTEMD, state_file], env=env, log=log, ready=ready)
    return env


def start_exporter(lab, name, config_text, prefix=(), env=None):
    """Writes `config_text` to <lab root>/<name>.yml (world-readable: `prefix` may run the exporter as another
    user), checks it with --config.check, and starts the exporter as lab process `name` on a free loopback
    port. Returns the port once /-/ready answers."""
    import lab as labmod  # the module; `lab` here is a Lab
    cfg = os.path.join(lab.root, name + ".yml")
    with open(cfg, "w") as f:
        f.write(config_text)
    os.chmod(cfg, 0o644)
    r = run([BIN, "--config.file=" + cfg, "--config.check"])
    assert r.returncode == 0, r.stdout + r.stderr
    port = labmod.free_port()
    lab.start_process(name, list(prefix) + [BIN, "--config.file=" + cfg, "--web.listen-address=127.0.0.1:%d" % port],
                      env=env, ready=lambda: http("http://127.0.0.1:%d/-/ready" % port, timeout=1)[0] == 200)
    return port


def get_metrics(port):
    """The parsed /metrics of the exporter on 127.0.0.1:`port` (which must answer 200)."""
    status, _, body = http("http://127.0.0.1:%d/metrics" % port)
    assert status == 200, status
    return parse_metrics(body)


def run_clock(m, collector):
    """(earliest, latest): the bounds of the whole-second `now` that `collector`'s served run read during the run,
    from the same scrape `m` (its end and duration). Compare times the exporter computed from its own clock
    with these, not with the test's clock: the served run may be an interval or more old."""
    # Only for a served run that succeeded: after a failed or overrunning one, last_success belongs to an
    # older run and duration is not that run's.
    assert sample(m, "mailstack_collector_success", collector=collector) == 1, "the served %s run failed" % collector
    end = sample(m, "mailstack_collector_last_success_timestamp_seconds", collector=collector)
    duration = sample(m, "mailstack_collector_duration_seconds", collector=collector)
    assert end and duration is not None, "no successful %s run in this scrape" % collector
    return end - duration - 1.01, end + 0.01


def slowest_scrape(port, seconds, check=None):
    """Scrapes /metrics every 50 ms for `seconds`; returns the slowest scrape's time in seconds. `check(m)`, if
    given, runs on each parsed scrape."""
    worst = 0.0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        m = get_metrics(port)
        worst = max(worst, time.monotonic() - t0)
        if check:
            check(m)
        time.sleep(0.05)
    return worst


def wait_log(path, needle, timeout, what=None):
    """Waits until the file at `path` contains `needle` (a str, or a compiled regex); returns the text. The
    runner logs a collector's failure and recovery just after it publishes the run, so a scrape that shows
    the run can come before its log line."""
    def text():
        with open(path) as f:
            return f.read()

    def found():
        t = text()
        return t if (needle in t if isinstance(needle, str) else needle.search(t)) else None
    try:
        return wait(found, timeout, what or "%r in %s" % (getattr(needle, "pattern", needle), path))
    except AssertionError as e:
        raise AssertionError("%s; its tail:\n%s" % (e, text()[-2000:])) from None
