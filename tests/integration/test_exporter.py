"""The real exporter binary, scraped by a real Prometheus that evaluates the shipped rules
and every dashboard query.

Proves: promtool check metrics on a real scrape, the Prometheus target is up, filesystem
values equal df's (exactly, on a quiet tmpfs of known size), the rules load and fire on real
data, every dashboard query returns data, reload (SIGHUP and POST) with a bad config keeps the
old one, 100 concurrent scrapes are served or refused, --config.check.
"""
import concurrent.futures
import glob
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import dashboards  # noqa: E402
import lab as labmod  # noqa: E402
from exporter_env import BIN, REPO, http, parse_metrics, run, sample, start_fake_systemd, wait  # noqa: E402

LAB = None
PORT = None
FS = None          # tmpfs mount point (quiet, known size)
FS_SIZE = 64 * 1024 * 1024
CONFIG = None
GOOD_CONFIG = """\
defaults:
  interval: 1s
  timeout: 500ms
collectors:
  postfix_queue:
    instances:
      - {{name: main, showq: {showq}}}
  services:
    units: [postfix@-.service, dovecot.service]
    processes: {{postfix: master}}
  certificates:
    files: [{crt}]
    ca_file: {ca}
  probes:
    interval: 2s
    timeout: 1500ms
    targets:
      - {{name: smtp, protocol: smtp, address: '127.0.0.1:25', tls: starttls, server_name: mail.example.test,
         ca_file: {ca}, cert_file: {crt}}}
  dns:
    interval: 2s
    timeout: 1500ms
    resolver: '127.0.0.1:{dns_port}'
    domains:
      - {{domain: example.test, mail_host: mail.example.test, ips: [127.0.0.1],
         dkim: [{{selector: mail, key_file: {dkim_key}}}]}}
    dnsbl: {{zones: [bl.test]}}
  logs:
    interval: 1s
    timeout: 500ms
    start_at: beginning
    sources:
      - file: {maillog}
  filesystem:
    paths: [/, {fs}]
"""


def good_config():
    return GOOD_CONFIG.format(fs=FS, showq=LAB.showq_socket, crt=LAB.server_crt, ca=LAB.ca_cert,
                              dns_port=LAB.ports["dns"], dkim_key=LAB.dkim_key_file, maillog=LAB.maillog)


def metrics_url():
    return "http://127.0.0.1:%d/metrics" % PORT


def scrape():
    status, _, body = http(metrics_url())
    assert status == 200, "scrape answered %d" % status
    return parse_metrics(body)


def setUpModule():
    global LAB, PORT, FS, CONFIG
    LAB = labmod.Lab()
    FS = os.path.join(LAB.root, "fs")
    os.makedirs(FS, exist_ok=True)
    subprocess.run(["umount", FS], capture_output=True)
    r = run(["mount", "-t", "tmpfs", "-o", "size=%d,nr_inodes=4096,mode=0755" % FS_SIZE, "tmpfs", FS])
    if r.returncode != 0:
        raise RuntimeError("cannot mount a tmpfs for the filesystem test (root needed): " + r.stderr)
    with open(os.path.join(FS, "3MiB.bin"), "wb") as f:
        f.write(b"\0" * 3 * 1024 * 1024)
    # A real Postfix with a few queued messages, so every dashboard row has data.
    LAB.start_postfix()
    LAB.start_nsd()  # default zones: example.test is healthy, so every Deliverability query has data
    LAB.fill_queue(3, 2, size=1500)
    LAB.wait_queue({"deferred": 3, "hold": 2, "active": 0, "incoming": 0}, timeout=60)
    CONFIG = os.path.join(LAB.root, "exporter.yml")
    with open(CONFIG, "w") as f:
        f.write(good_config())
    state = os.path.join(LAB.root, "units.state")
    with open(state, "w") as f:
        f.write("postfix@-.service loaded active running 0\ndovecot.service loaded active running 2\n")
    env = start_fake_systemd(LAB, os.path.join(LAB.root, "bus.sock"), state)
    PORT = labmod.free_port()
    LAB.start_process("exporter", [BIN, "--config.file=" + CONFIG,
                                   "--web.listen-address=127.0.0.1:%d" % PORT], env=env,
                      ready=lambda: http("http://127.0.0.1:%d/-/ready" % PORT, timeout=1)[0] == 200)
    LAB.start_prometheus(["127.0.0.1:%d" % PORT],
                         rule_files=sorted(glob.glob(os.path.join(REPO, "alerts", "*.rules.yml"))))


def tearDownModule():
    try:
        if LAB:
            LAB.stop_all()
    finally:
        if FS:
            subprocess.run(["umount", FS], capture_output=True)


COLLECTORS = ("filesystem", "postfix_queue", "services", "certificates", "probes", "dns", "logs")


def settled_scrape():
    """(headers, body) of a scrape in which every collector's latest run succeeded, so every family is in it."""
    def settled():
        status, headers, body = http(metrics_url())
        m = parse_metrics(body) if status == 200 else {}
        ok = all(sample(m, "mailstack_collector_success", collector=c) == 1 for c in COLLECTORS)
        return (headers, body) if ok and sample(m, "mailstack_dkim_key_size_bytes", domain="example.test",
                                                  selector="mail") else None
    return wait(settled, 30, "a scrape with every collector's run successful")


class ExporterTest(unittest.TestCase):
    def test_scrape_passes_promtool_check_metrics(self):
        headers, body = settled_scrape()
        self.assertEqual(headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, text=True)
        # Clean, with every collector on: no lint at all.
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""), body)
        self.assertNotIn("# TYPE process_cpu_seconds_total gauge", body)

    def test_filesystem_values_equal_df(self):
        m = wait(lambda: (lambda s: s if sample(s, "mailstack_filesystem_size_bytes", path=FS) else None)(scrape()),
                 10, "filesystem samples")
        df = run(["df", "-B1", "--output=size,avail,used,itotal,iavail,iused", FS]).stdout.split("\n")[1].split()
        size, avail, used, itotal, iavail, _ = (int(x) for x in df)
        self.assertEqual(size, FS_SIZE)
        self.assertEqual(sample(m, "mailstack_filesystem_size_bytes", path=FS), size)
        self.assertEqual(sample(m, "mailstack_filesystem_avail_bytes", path=FS), avail)
        self.assertEqual(sample(m, "mailstack_filesystem_free_bytes", path=FS), size - used)
        self.assertEqual(sample(m, "mailstack_filesystem_avail_bytes", path=FS), FS_SIZE - 3 * 1024 * 1024)
        self.assertEqual(sample(m, "mailstack_filesystem_files", path=FS), itotal)
        self.assertEqual(sample(m, "mailstack_filesystem_files", path=FS), 4096)
        self.assertEqual(sample(m, "mailstack_filesystem_files_free", path=FS), iavail)
        self.assertEqual(sample(m, "mailstack_filesystem_readonly", path=FS), 0)
        self.assertEqual(sample(m, "mailstack_filesystem_device_error", path=FS), 0)
        root_size = int(run(["df", "-B1", "--output=size", "/"]).stdout.split("\n")[1])
        self.assertEqual(sample(m, "mailstack_filesystem_size_bytes", path="/"), root_size)
        self.assertEqual(sample(m, "mailstack_collector_success", collector="filesystem"), 1)

    def test_prometheus_scrapes_the_target(self):
        r = LAB.wait_for('up{job="mailstack"}', lambda r: r and r[0]["value"][1] == "1", timeout=30)
        self.assertEqual(r[0]["metric"]["instance"], "127.0.0.1:%d" % PORT)
        r = LAB.wait_for('mailstack_filesystem_size_bytes{path="%s"}' % FS, timeout=30)
        self.assertEqual(float(r[0]["value"][1]), FS_SIZE)

    def test_rules_load_evaluate_and_fire_on_real_data(self):
        status, _, body = http(LAB.prom_url + "/api/v1/rules")
        self.assertEqual(status, 200)
        import json
        groups = json.loads(body)["data"]["groups"]
        names = {g["name"] for g in groups}
        self.assertEqual(names, {"mailstack-exporter", "mailstack-filesystem", "mailstack-postfix",
                                 "mailstack-services", "mailstack-certificates", "mailstack-probes",
                                 "mailstack-dns", "mailstack-logs"})
        def healthy():
            gs = json.loads(http(LAB.prom_url + "/api/v1/rules")[2])["data"]["groups"]
            rules = [r for g in gs for r in g["rules"]]
            return all(r.get("health") == "ok" for r in rules) and len(rules) > 10
        wait(healthy, 30, "every rule evaluated with health ok")
        LAB.wait_for('ALERTS{alertname="MailstackWatchdog",alertstate="firing"}', timeout=30)
        # Fill the tmpfs to 97 %: the space alert must become pending (both severities) from real data.
        big = os.path.join(FS, "fill.bin")
        with open(big, "wb") as f:
            f.write(b"\0" * int(FS_SIZE * 0.94))
        try:
            r = LAB.wait_for('ALERTS{alertname="MailstackFilesystemSpaceLow",path="%s"}' % FS,
                             lambda r: len(r) == 2, timeout=30)
            self.assertEqual(sorted(x["metric"]["severity"] for x in r), ["critical", "warning"])
            self.assertEqual({x["metric"]["alertstate"] for x in r}, {"pending"})
        finally:
            os.unlink(big)
        LAB.wait_for('ALERTS{alertname="MailstackFilesystemSpaceLow",path="%s"}' % FS,
                     lambda r: len(r) == 0, timeout=30)

    def test_every_dashboard_query_returns_data(self):
        files = sorted(glob.glob(os.path.join(REPO, "grafana", "*.json")))
        self.assertTrue(files)
        # Enough samples for rate()/deriv() windows.
        LAB.wait_for('count_over_time(up{job="mailstack"}[1m])', lambda r: r and float(r[0]["value"][1]) >= 5,
                     timeout=30)
        checked = 0
        for path in files:
            for title, ref, expr in dashboards.extract_queries(path):
                q = dashboards.substitute(expr, interval="1m")
                with self.subTest(dashboard=os.path.basename(path), panel=title, ref=ref):
                    try:
                        r = LAB.wait_for(q, timeout=15)
                    except Exception as e:  # noqa: BLE001 - report the query with the error
                        self.fail("%s / %s: %s\n%s" % (title, ref, q, e))
                    self.assertTrue(r, q)
                checked += 1
        self.assertGreaterEqual(checked, 15)

    def test_unknown_paths_are_404(self):
        for p in ("/metricsfoo", "/metrics/x", "/nope"):
            self.assertEqual(http("http://127.0.0.1:%d%s" % (PORT, p))[0], 404, p)
        status, headers, body = http("http://127.0.0.1:%d/" % PORT)
        self.assertEqual(status, 200)
        self.assertIn("<td>filesystem</td><td>1s</td><td>500ms</td>", body)
        self.assertIn("<td>postfix_queue</td><td>1s</td><td>500ms</td>", body)

    def test_reload_with_bad_config_keeps_the_old_one(self):
        pid = LAB.pid("exporter")
        try:
            with open(CONFIG, "w") as f:
                f.write(good_config() + "    colour: blue\n")
            os.kill(pid, signal.SIGHUP)
            wait(lambda: sample(scrape(), "mailstack_exporter_config_last_reload_successful") == 0, 10,
                 "reload_successful 0 after a bad SIGHUP reload")
            status, _, body = http("http://127.0.0.1:%d/-/reload" % PORT, method="POST")
            self.assertEqual(status, 500)
            self.assertEqual(body, "failed to reload config: %s:36:5: collectors.filesystem.colour: unknown key "
                                   "(allowed: paths, enabled, interval, timeout)\n" % CONFIG)
            m = scrape()
            self.assertEqual(sample(m, "mailstack_filesystem_size_bytes", path=FS), FS_SIZE)
            before = sample(m, "mailstack_collector_last_success_timestamp_seconds", collector="filesystem")
            wait(lambda: sample(scrape(), "mailstack_collector_last_success_timestamp_seconds",
                                collector="filesystem") > before, 10, "collector still running on the old config")
        finally:
            with open(CONFIG, "w") as f:
                f.write(good_config())
        status, _, _ = http("http://127.0.0.1:%d/-/reload" % PORT, method="POST")
        self.assertEqual(status, 200)
        self.assertEqual(sample(scrape(), "mailstack_exporter_config_last_reload_successful"), 1)
        with open(LAB.proc_logs["exporter"][0]) as f:
            log = f.read()
        self.assertIn('msg="config reload failed; keeping the running config"', log)
        self.assertIn('msg="Listening on" address=127.0.0.1:%d' % PORT, log)

    def test_hundred_concurrent_scrapes_are_served_or_refused(self):
        def one(_):
            return http(metrics_url(), timeout=30)[0]
        with concurrent.futures.ThreadPoolExecutor(100) as pool:
            codes = list(pool.map(one, range(100)))
        self.assertEqual(set(codes) - {200, 503}, set(), codes)
        self.assertGreaterEqual(codes.count(200), 40)
        self.assertEqual(http(metrics_url())[0], 200)
        self.assertIsNone(LAB.procs["exporter"].poll())

    def test_config_check(self):
        r = run([BIN, "--config.check", "--config.file=" + CONFIG])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("config OK: " + CONFIG, r.stdout)
        self.assertIn("enabled:  filesystem       interval 1s, timeout 500ms", r.stdout)
        self.assertIn("enabled:  postfix_queue    interval 1s, timeout 500ms", r.stdout)
        self.assertIn("enabled:  services         interval 1s, timeout 500ms", r.stdout)
        self.assertIn("enabled:  certificates     interval 1s, timeout 500ms", r.stdout)
        self.assertIn("enabled:  probes           interval 2s, timeout 1s500ms", r.stdout)
        self.assertIn("enabled:  dns              interval 2s, timeout 1s500ms", r.stdout)
        bad = os.path.join(LAB.root, "bad.yml")
        with open(bad, "w") as f:
            f.write("defaults:\n  interval: 10s\n  timeout: 20s\n")
        r = run([BIN, "--config.check", "--config.file=" + bad])
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "config error: %s:3:12: defaults.timeout: timeout (20s) must be less than "
                                   "interval (10s)\n" % bad)
        r = run([BIN, "--no-such-flag"])
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "mailstack_exporter: error: unknown flag --no-such-flag, try --help\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
