"""Smoke test of the integration lab: every daemon answers with real values.

Run from the repository root as root:
    /usr/bin/python3 -m unittest -v tests/integration/test_stack.py

MAILSTACK_LAB_SKIP_BENCH=1 skips the 10,000-message fill benchmark.
"""

import imaplib
import os
import poplib
import re
import smtplib
import socket
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as labmod  # noqa: E402

LAB = None


def setUpModule():
    global LAB
    t0 = time.monotonic()
    LAB = labmod.Lab()
    try:
        LAB.start_opendkim()   # before postfix: the milter is wired in only if it runs
        LAB.start_nsd()
        LAB.start_postfix()
        LAB.start_dovecot()    # after postfix: its SASL socket goes into postfix's private/
    except BaseException:
        LAB.stop_all()
        raise
    LAB.timings["stack_start_total"] = time.monotonic() - t0


def tearDownModule():
    if LAB is None:
        return
    t0 = time.monotonic()
    LAB.stop_all()
    LAB.timings["stack_stop_total"] = time.monotonic() - t0
    sys.stderr.write("\nlab timings: %s\n" % ", ".join(
        "%s=%.2fs" % kv for kv in sorted(LAB.timings.items())))


def tls_connect(port, server_hostname=labmod.MAIL_HOST, timeout=10):
    """TLS to 127.0.0.1:port, verified against the lab CA for `server_hostname`."""
    ctx = LAB.ssl_context()
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname=server_hostname)


def read_line(sock):
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        buf += chunk
    return buf.decode(errors="replace")


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


class SMTP(unittest.TestCase):
    def test_port25_greets_and_offers_starttls(self):
        with smtplib.SMTP("127.0.0.1", 25, timeout=10) as s:
            code, banner = s.ehlo("client.example.test")
            self.assertEqual(code, 250)
            self.assertTrue(s.has_extn("starttls"), s.esmtp_features)
            self.assertFalse(s.has_extn("auth"), "no AUTH on port 25")
            # the greeting smtplib consumed on connect
        with socket.create_connection(("127.0.0.1", 25), timeout=10) as raw:
            self.assertRegex(read_line(raw), r"^220 mail\.example\.test ESMTP")

    def test_port465_implicit_tls(self):
        with tls_connect(465) as t:
            self.assertRegex(read_line(t), r"^220 mail\.example\.test ESMTP")
            cert = t.getpeercert()
            self.assertIn(("DNS", "mail.example.test"), cert["subjectAltName"])
            self.assertIn(t.version(), ("TLSv1.2", "TLSv1.3"))

    def test_port587_starttls_required_before_auth(self):
        with smtplib.SMTP("127.0.0.1", 587, timeout=10) as s:
            s.ehlo("client.example.test")
            self.assertTrue(s.has_extn("starttls"))
            self.assertFalse(s.has_extn("auth"), "AUTH must not be offered before TLS")
            # mail before TLS is refused (smtpd_tls_security_level=encrypt)
            code, _ = s.mail("x@example.test")
            self.assertEqual(code, 530)
            # smtplib uses self._host as TLS server name: verify the real name
            s._host = labmod.MAIL_HOST
            code, _ = s.starttls(context=LAB.ssl_context())
            self.assertEqual(code, 220)
            s.ehlo("client.example.test")
            self.assertTrue(s.has_extn("auth"), s.esmtp_features)
            self.assertIn("PLAIN", s.esmtp_features["auth"].upper())
            code, _ = s.login(labmod.PROBE_USER, labmod.PROBE_PASSWORD)  # via Dovecot SASL
            self.assertEqual(code, 235)

    def test_delivery_to_probe_maildir(self):
        mid = LAB.send_mail(labmod.PROBE_USER, subject="smoke delivery")
        path = LAB.wait_maildir(mid, timeout=20)
        self.assertRegex(path, r"/vmail/example\.test/probe/(new|cur)/")
        self.assertEqual(os.stat(path).st_uid, labmod.VMAIL_UID)

    def test_dkim_signed_through_milter_on_port25(self):
        self.assertTrue(LAB.milter_enabled)
        mid = LAB.send_mail(labmod.PROBE_USER, subject="smoke dkim", port=25)
        with open(LAB.wait_maildir(mid, timeout=20), "rb") as f:
            msg = f.read().decode(errors="replace")
        self.assertRegex(msg, r"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/simple; d=example\.test;"
                              r"\s+s=mail;")


class Queue(unittest.TestCase):
    def test_deferred_and_held_counts(self):
        LAB.flush_queue()
        stats = LAB.fill_queue(7, 3, size=2048)
        self.assertEqual(stats["sent"], 10)
        counts = LAB.wait_queue({"deferred": 7, "hold": 3, "active": 0, "incoming": 0}, timeout=60)
        self.assertEqual(counts, {"deferred": 7, "hold": 3})
        msgs = LAB.queue_json()
        deferred = [m for m in msgs if m["queue_name"] == "deferred"]
        self.assertTrue(all(r["address"].endswith("@defer.test")
                            for m in deferred for r in m["recipients"]))
        self.assertTrue(all("deferred transport" in r.get("delay_reason", "")
                            for m in deferred for r in m["recipients"]), deferred[0])
        self.assertTrue(all(m["message_size"] >= 2000 for m in msgs))
        self.assertTrue(os.path.exists(LAB.showq_socket))
        LAB.flush_queue()
        self.assertEqual(LAB.queue_counts(), {})

    @unittest.skipIf(os.environ.get("MAILSTACK_LAB_SKIP_BENCH"), "MAILSTACK_LAB_SKIP_BENCH set")
    def test_zz_fill_10000(self):
        LAB.flush_queue()
        t0 = time.monotonic()
        stats = LAB.fill_queue(9000, 1000, size=1024)
        LAB.timings["fill_10000_smtp"] = stats["seconds"]
        counts = LAB.wait_queue({"deferred": 9000, "hold": 1000, "active": 0, "incoming": 0}, timeout=120)
        LAB.timings["fill_10000_until_settled"] = time.monotonic() - t0
        self.assertEqual(counts, {"deferred": 9000, "hold": 1000})
        t0 = time.monotonic()
        LAB.queue_json()
        LAB.timings["postqueue_j_10000"] = time.monotonic() - t0
        t0 = time.monotonic()
        LAB.flush_queue()
        LAB.timings["flush_10000"] = time.monotonic() - t0
        self.assertEqual(LAB.queue_counts(), {})


class Dovecot(unittest.TestCase):
    def test_imap143(self):
        m = imaplib.IMAP4("127.0.0.1", 143, timeout=10)
        try:
            self.assertTrue(m.welcome.startswith(b"* OK"), m.welcome)
            typ, _ = m.login(labmod.PROBE_USER, labmod.PROBE_PASSWORD)
            self.assertEqual(typ, "OK")
        finally:
            m.logout()

    def test_imaps993(self):
        with tls_connect(993) as t:
            self.assertTrue(read_line(t).startswith("* OK"))
        m = imaplib.IMAP4_SSL("127.0.0.1", 993, ssl_context=LAB.ssl_context(), timeout=10)
        try:
            self.assertEqual(m.login(labmod.PROBE_USER, labmod.PROBE_PASSWORD)[0], "OK")
            self.assertEqual(m.select("INBOX")[0], "OK")
        finally:
            m.logout()

    def test_pop3_110(self):
        p = poplib.POP3("127.0.0.1", 110, timeout=10)
        try:
            self.assertTrue(p.getwelcome().startswith(b"+OK"), p.getwelcome())
        finally:
            p.quit()

    def test_pop3s_995(self):
        with tls_connect(995) as t:
            self.assertTrue(read_line(t).startswith("+OK"))


class OpenDKIM(unittest.TestCase):
    def test_milter_option_negotiation(self):
        # SMFIC_OPTNEG: uint32 len=13, 'O', uint32 version, actions, protocol
        SMFIF_ALL_V6 = 0x1FF          # ADDHDRS..SETSYMLIST
        SMFIP_ALL_V6 = 0x1FFFFF       # all protocol steps the MTA could skip
        with socket.create_connection(("127.0.0.1", 8891), timeout=10) as s:
            s.sendall(struct.pack(">IcIII", 13, b"O", 6, SMFIF_ALL_V6, SMFIP_ALL_V6))
            (length,) = struct.unpack(">I", recv_exact(s, 4))
            body = recv_exact(s, length)
            self.assertEqual(body[:1], b"O", body)
            version, actions, protocol = struct.unpack(">III", body[1:13])
            self.assertEqual(version, 6)
            self.assertTrue(actions & 0x01, "signer must ask for SMFIF_ADDHDRS")
            s.sendall(struct.pack(">Ic", 1, b"Q"))  # SMFIC_QUIT

    def test_key_files(self):
        st = os.stat(LAB.dkim_key_file)
        self.assertEqual(st.st_mode & 0o777, 0o600)
        self.assertEqual(os.stat(os.path.dirname(LAB.dkim_key_file)).st_mode & 0o777, 0o700)
        self.assertTrue(os.path.exists(LAB.dkim_txt_file))


class DNS(unittest.TestCase):
    def test_mx(self):
        self.assertEqual(LAB.dig("MX", "example.test"), ["10 mail.example.test."])

    def test_a_and_ptr(self):
        self.assertEqual(LAB.dig("A", "mail.example.test"), ["127.0.0.1"])
        self.assertEqual(LAB.dig("-x", "127.0.0.1"), ["mail.example.test."])

    def test_spf_dmarc_tlsrpt(self):
        self.assertEqual(LAB.dig("TXT", "example.test"), ['"v=spf1 ip4:127.0.0.1 -all"'])
        self.assertEqual(LAB.dig("TXT", "_dmarc.example.test"),
                         ['"v=DMARC1; p=reject; rua=mailto:dmarc@example.test"'])
        self.assertTrue(LAB.dig("TXT", "_mta-sts.example.test")[0].startswith('"v=STSv1;'))
        self.assertTrue(LAB.dig("TXT", "_smtp._tls.example.test")[0].startswith('"v=TLSRPTv1;'))

    def test_dkim_record_matches_key_file(self):
        txt = "".join(re.findall(r'"([^"]*)"', " ".join(LAB.dig("TXT", "mail._domainkey.example.test"))))
        self.assertIn("v=DKIM1;", txt)
        p = re.search(r"p=([A-Za-z0-9+/=]+)", txt).group(1)
        self.assertEqual(p, LAB.dkim_public_key_b64())

    def test_broken_and_blocklist_zones(self):
        self.assertEqual(LAB.dig("TXT", "_dmarc.broken.test"), [])
        self.assertEqual(LAB.dig("MX", "broken.test"), ["10 mx.elsewhere.test."])
        self.assertEqual(LAB.dig("A", "2.0.0.127.bl.test"), ["127.0.0.2"])
        self.assertEqual(LAB.dig("A", "1.0.0.127.bl.test"), ["127.255.255.254"])
        self.assertEqual(LAB.dig("A", "3.0.0.127.bl.test"), [])

    def test_zz_reload_with_custom_zone(self):
        zones = dict(LAB.zones)
        zones["bl.test"] += "3.0.0.127 A 127.0.0.4\n"
        LAB.reload_nsd(zones)
        self.assertEqual(LAB.dig("A", "3.0.0.127.bl.test"), ["127.0.0.4"])


class Prometheus(unittest.TestCase):
    """Prometheus scraping itself (stands in for the exporter) + a rule."""

    @classmethod
    def setUpClass(cls):
        cls.rules = os.path.join(LAB.root, "test-rules.yml")
        with open(cls.rules, "w") as f:
            f.write('groups:\n- name: lab\n  rules:\n'
                    '  - record: lab:smoke:one\n    expr: vector(1)\n')
        port = labmod.free_port()
        LAB.start_prometheus(["127.0.0.1:%d" % port], [cls.rules], port=port)

    @classmethod
    def tearDownClass(cls):
        LAB.stop_process("prometheus")

    def test_scrape_and_rules(self):
        res = LAB.wait_for('up{job="mailstack"} == 1', timeout=20)
        self.assertEqual(res[0]["metric"]["job"], "mailstack")
        res = LAB.wait_for("lab:smoke:one", timeout=20)
        self.assertEqual(res[0]["value"][1], "1")

    def test_query_error_is_raised(self):
        with self.assertRaisesRegex(labmod.LabError, r"bad_data.*parse error"):
            LAB.prom_query("sum(")


class Helpers(unittest.TestCase):
    def test_start_failure_reports_log_tail(self):
        with self.assertRaisesRegex(labmod.LabError, r"(?s)exited with status 3.*boom-on-stderr"):
            LAB.start_process("doomed", ["sh", "-c", "echo boom-on-stderr >&2; exit 3"],
                              ready=lambda: False, timeout=5)
        self.assertIsNone(LAB.pid("doomed"))

    def test_port_busy_names_the_owner(self):
        who = labmod.port_busy(25)
        self.assertIsNotNone(who)
        self.assertIn("master", who)
        with self.assertRaisesRegex(labmod.PortBusyError, r"port 25 is already in use by pid \d+ \(.*master"):
            labmod.ensure_port_free(25)
        self.assertIsNone(labmod.port_busy(labmod.free_port()))


if __name__ == "__main__":
    unittest.main(verbosity=2)
