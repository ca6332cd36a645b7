"""probes against the real stack (host names resolved through the lab's nsd): Postfix (25 STARTTLS, 587 STARTTLS + AUTH, 465 implicit), Dovecot (143, 993,
110, 995, ManageSieve 4190) and OpenDKIM's milter port, with certificates from the lab's throwaway CA.

Every protocol dialog succeeds; the served certificate's timestamps equal `openssl x509` to the second; a wrong
server name, an untrusted chain and an expired served certificate are reported (valid 0), not dropped; a refused
port says reason="connect"; a peer that never speaks ends by the deadline with reason="timeout" while /metrics
keeps answering fast; a certificate rotated on disk without `doveadm reload` shows as a mismatch until the reload.
"""
import calendar
import datetime
import os
import socket
import ssl
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import lab as labmod  # noqa: E402
from exporter_env import get_metrics, run, run_clock, sample, slowest_scrape, start_exporter, wait  # noqa: E402

LAB = None
PORT = None
SERVERS = []
HELD = []  # sockets kept open for the module
DOWN_PORT = None
SILENT_PORT = None
EXPIRED_PORT = None
EXPIRED = None

GOOD = [  # name, protocol, port, tls, cert_file?
    ("smtp", "smtp", 25, "starttls", False),
    ("submission", "submission", 587, "starttls", False),
    ("submissions", "submission", 465, "implicit", False),
    ("imap", "imap", 143, "starttls", False),
    ("imaps", "imap", 993, "implicit", True),
    ("pop3", "pop3", 110, "starttls", False),
    ("pop3s", "pop3", 995, "implicit", True),
    ("sieve", "sieve", 4190, "starttls", False),
    ("smtp_plain", "smtp", 25, "none", False),
    ("milter", "milter", 8891, "none", False),
    ("tcp_imap", "tcp", 143, "none", False),
]


def openssl_time(path, which):
    out = run(["openssl", "x509", "-in", path, "-noout", "-" + which]).stdout.strip()
    return calendar.timegm(time.strptime(out.split("=", 1)[1], "%b %d %H:%M:%S %Y %Z"))


class Server(threading.Thread):
    """A loopback TCP server running `handle(conn)` per connection."""

    def __init__(self, handle):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.handle = handle
        self.stopping = False
        self.start()

    def run(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            self.handle(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self):
        self.stopping = True
        self.sock.close()


def silent(conn):
    time.sleep(5)  # accepts and never speaks


def setUpModule():
    global LAB, PORT, DOWN_PORT, SILENT_PORT, EXPIRED_PORT, EXPIRED
    LAB = labmod.Lab()
    LAB.start_opendkim()
    LAB.start_postfix()
    LAB.start_dovecot(sieve=True)
    LAB.start_nsd()  # mail.example.test A 127.0.0.1 on 127.0.0.1:5353
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    EXPIRED = LAB.issue_cert("expired", not_before=now - datetime.timedelta(days=100),
                             not_after=now - datetime.timedelta(days=10))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(EXPIRED["crt"], EXPIRED["key"])

    def expired_tls(conn):
        with ctx.wrap_socket(conn, server_side=True) as s:
            s.recv(1)
    SERVERS.append(Server(silent))
    SERVERS.append(Server(expired_tls))
    SILENT_PORT, EXPIRED_PORT = SERVERS[0].port, SERVERS[1].port
    # Bound but not listening for the whole module: connections are refused, and the kernel neither hands the
    # port to another socket nor uses it as a source port.
    down = socket.socket()
    down.bind(("127.0.0.1", 0))
    DOWN_PORT = down.getsockname()[1]
    HELD.append(down)

    # A run timeout of 3 s: the probes' own deadline (the run's minus 250 ms) is far from both the good
    # targets' few milliseconds and the scheduling noise of a loaded machine.
    lines = ["defaults: {interval: 4s, timeout: 3s}", "collectors:", "  filesystem: {enabled: false}",
             "  postfix_queue: {enabled: false}", "  probes:", "    helo_name: probe.example.test",
             "    resolver: '127.0.0.1:%d'" % LAB.ports["dns"], "    targets:"]
    for name, proto, port, tls, with_file in GOOD:
        t = "      - {name: %s, protocol: %s, address: '127.0.0.1:%d', tls: %s" % (name, proto, port, tls)
        if tls != "none":
            t += ", server_name: %s, ca_file: %s" % (labmod.MAIL_HOST, LAB.ca_cert)
        if with_file:
            t += ", cert_file: %s" % LAB.server_crt
        lines.append(t + "}")
    lines += [
        "      - {name: wrong_name, protocol: imap, address: '127.0.0.1:993', tls: implicit,"
        " server_name: wrong.example.test, ca_file: %s}" % LAB.ca_cert,
        "      - {name: untrusted, protocol: imap, address: '127.0.0.1:993', tls: implicit,"
        " server_name: %s}" % labmod.MAIL_HOST,
        "      - {name: expired, protocol: tcp, address: '127.0.0.1:%d', tls: implicit, server_name: %s,"
        " ca_file: %s}" % (EXPIRED_PORT, labmod.MAIL_HOST, LAB.ca_cert),
        "      - {name: down, protocol: smtp, address: '127.0.0.1:%d'}" % DOWN_PORT,
        # By name, through nsd: server_name defaults to the name, so the certificate is checked against it.
        "      - {name: by_name, protocol: smtp, address: '%s:25', tls: starttls, ca_file: %s}" % (
            labmod.MAIL_HOST, LAB.ca_cert),
        "      - {name: no_such_name, protocol: smtp, address: 'nothere.%s:25'}" % labmod.DOMAIN,
        "      - {name: silent, protocol: smtp, address: '127.0.0.1:%d'}" % SILENT_PORT,
        "      - {name: plaintext_on_tls, protocol: smtp, address: '127.0.0.1:25', tls: implicit}",
        "      - {name: missing_file, protocol: imap, address: '127.0.0.1:993', tls: implicit,"
        " ca_file: %s, cert_file: %s/nope.pem}" % (LAB.ca_cert, LAB.root),
    ]
    PORT = start_exporter(LAB, "exporter", "\n".join(lines) + "\n")


def tearDownModule():
    for s in SERVERS:
        s.stop()
    for s in HELD:
        s.close()
    if LAB:
        LAB.stop_all()


def metrics():
    return get_metrics(PORT)


def first_run():
    return wait(lambda: (lambda m: m if sample(m, "mailstack_collector_success", collector="probes") == 1
                         else None)(metrics()), 30, "a successful probes run")


def having(m, metric, **labels):
    """Values of every `metric` series whose labels include `labels`."""
    want = set(labels.items())
    return [v for (name, lbls), v in m.items() if name == metric and want <= set(lbls)]


def reason(m, target):
    hot = [r for r in ("resolve", "connect", "timeout", "tls", "protocol", "rejected")
           if having(m, "mailstack_probe_failure", target=target, reason=r) == [1]]
    return hot[0] if len(hot) == 1 else ("none" if not hot else hot)


class ProbesTest(unittest.TestCase):
    def test_a_every_real_service_answers_its_dialog(self):
        m = first_run()
        for name, proto, _port, tls, _f in GOOD:
            with self.subTest(target=name):
                self.assertEqual(sample(m, "mailstack_probe_success", target=name, protocol=proto), 1,
                                 "reason %s" % reason(m, name))
                self.assertEqual(reason(m, name), "none")
                d = sample(m, "mailstack_probe_duration_seconds", target=name, protocol=proto)
                self.assertGreater(d, 0)
                # A dialog that waited for anything but the server's replies would run into the probes'
                # 2.75 s deadline.
                self.assertLess(d, 2.0)
                version = sample(m, "mailstack_probe_tls_version_info", target=name, protocol=proto,
                                 version="TLSv1.3")
                self.assertEqual(version, 1 if tls != "none" else None)
        # The real daemons saw the dialogs: Postfix logged the EHLO and STARTTLS of the probe.
        with open(LAB.maillog) as f:
            log = f.read()
        self.assertIn("ehlo=2 starttls=1 quit=1", log)

    def test_b_served_certificate_equals_openssl(self):
        m = first_run()
        end, start = openssl_time(LAB.server_crt, "enddate"), openssl_time(LAB.server_crt, "startdate")
        fp = run(["openssl", "x509", "-in", LAB.server_crt, "-noout", "-fingerprint", "-sha256"]).stdout
        fp = fp.strip().split("=", 1)[1].replace(":", "").lower()
        for name in ("smtp", "submissions", "imaps", "pop3", "sieve"):
            lbl = dict(source="probe", name=name, index="0")
            with self.subTest(target=name):
                self.assertEqual(sample(m, "mailstack_tls_certificate_not_after_timestamp_seconds", **lbl), end)
                self.assertEqual(sample(m, "mailstack_tls_certificate_not_before_timestamp_seconds", **lbl), start)
                self.assertEqual(sample(m, "mailstack_tls_certificate_valid", **lbl), 1)
                self.assertEqual(having(m, "mailstack_tls_certificate_info", sha256=fp, **lbl), [1])
        self.assertEqual(sample(m, "mailstack_tls_served_matches_file", target="imaps"), 1)
        self.assertEqual(sample(m, "mailstack_tls_served_matches_file", target="pop3s"), 1)
        self.assertEqual(sample(m, "mailstack_probe_cert_file_error", target="imaps"), 0)

    def test_b_host_name_resolved_through_the_real_dns(self):
        m = first_run()
        self.assertEqual(sample(m, "mailstack_probe_success", target="by_name", protocol="smtp"), 1,
                         reason(m, "by_name"))
        self.assertEqual(sample(m, "mailstack_tls_certificate_valid", source="probe", name="by_name", index="0"), 1)

    def test_c_bad_certificates_are_reported_not_dropped(self):
        m = first_run()
        for name in ("wrong_name", "untrusted"):
            with self.subTest(target=name):
                # The service itself works: the probe succeeds, the certificate is judged invalid.
                self.assertEqual(sample(m, "mailstack_probe_success", target=name, protocol="imap"), 1)
                self.assertEqual(sample(m, "mailstack_tls_certificate_valid", source="probe", name=name,
                                        index="0"), 0)
                self.assertEqual(sample(m, "mailstack_tls_certificate_not_after_timestamp_seconds",
                                        source="probe", name=name, index="0"),
                                 openssl_time(LAB.server_crt, "enddate"))
        lbl = dict(source="probe", name="expired", index="0")
        self.assertEqual(sample(m, "mailstack_probe_success", target="expired", protocol="tcp"), 1)
        self.assertEqual(sample(m, "mailstack_tls_certificate_valid", **lbl), 0)
        exp = openssl_time(EXPIRED["crt"], "enddate")
        self.assertEqual(sample(m, "mailstack_tls_certificate_not_after_timestamp_seconds", **lbl), exp)
        earliest, latest = run_clock(m, "probes")  # the expiry is counted from the run's clock
        self.assertGreaterEqual(sample(m, "mailstack_tls_certificate_expiry_seconds", **lbl), exp - latest)
        self.assertLessEqual(sample(m, "mailstack_tls_certificate_expiry_seconds", **lbl), exp - earliest)
        self.assertLess(sample(m, "mailstack_tls_certificate_expiry_seconds", **lbl), -9 * 86400)
        # An unreadable cert_file says so, and no comparison is made up.
        self.assertEqual(sample(m, "mailstack_probe_cert_file_error", target="missing_file"), 1)
        self.assertIsNone(sample(m, "mailstack_tls_served_matches_file", target="missing_file"))

    def test_d_broken_targets_have_a_reason(self):
        m = first_run()
        self.assertEqual(sample(m, "mailstack_probe_success", target="down", protocol="smtp"), 0)
        self.assertEqual(reason(m, "down"), "connect")
        self.assertEqual(reason(m, "silent"), "timeout")
        # Ends by the probe deadline (the run's 3 s minus 250 ms), not at some shorter timeout of its own and
        # not after the run's.
        d = sample(m, "mailstack_probe_duration_seconds", target="silent", protocol="smtp")
        self.assertGreater(d, 2.0)
        self.assertLess(d, 3.0)
        self.assertEqual(reason(m, "plaintext_on_tls"), "tls")
        self.assertEqual(reason(m, "no_such_name"), "resolve")
        # The silent target did not fail the run.
        self.assertEqual(sample(m, "mailstack_collector_success", collector="probes"), 1)

    def test_e_metrics_answer_fast_while_a_probe_hangs(self):
        first_run()
        # Over more than an interval (4 s), so across a whole run with the silent target holding its probe
        # for 2.75 s: a scrape that waited on the run would take seconds; 0.5 s is slack for a loaded machine.
        def served(m):
            self.assertIsNotNone(sample(m, "mailstack_probe_success", target="silent", protocol="smtp"))
        self.assertLess(slowest_scrape(PORT, 5, served), 0.5)

    def test_z_rotated_certificate_is_a_mismatch_until_reload(self):
        first_run()
        new_fp = LAB.rotate_dovecot_cert()

        def served(target, value):
            m = metrics()
            return m if sample(m, "mailstack_tls_served_matches_file", target=target) == value else None
        m = wait(lambda: served("imaps", 0), 20, "imaps mismatch after the rotation")
        self.assertEqual(sample(m, "mailstack_tls_served_matches_file", target="pop3s"), 0)
        self.assertEqual(sample(m, "mailstack_probe_success", target="imaps", protocol="imap"), 1)
        self.assertEqual(having(m, "mailstack_tls_certificate_info", source="probe", name="imaps", index="0",
                                sha256=new_fp), [])
        LAB.reload_dovecot()
        m = wait(lambda: served("imaps", 1), 20, "imaps match after doveadm reload")
        self.assertEqual(having(m, "mailstack_tls_certificate_info", source="probe", name="imaps", index="0",
                                sha256=new_fp), [1])


if __name__ == "__main__":
    unittest.main()
