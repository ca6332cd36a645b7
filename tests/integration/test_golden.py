"""Golden full scrape: one /metrics of a fixture-only config with every collector on, normalised, equals
golden/scrape.golden. It guards refactors of the metric plumbing: a change of any family, HELP, TYPE, series
(name and full label set), sample order or fixture-determined value shows as a unified diff.

Nothing real is probed: postfix_queue reads a fake showq socket serving a fixed stream and a spool directory
written here (fixed arrival records and mtimes); certificates reads tests/collectors/testdata/certs (fixed
dates); probes talk to fake SMTP/submission/LMTP/IMAP/POP3/ManageSieve/milter servers on threads (TLS with
golden/certs), a bound port that does not listen, a silent peer and an unresolvable name; dns asks a fake UDP
DNS server on a thread (zone below: SPF, DKIM against golden/dkim, DMARC, MTA-STS, TLS-RPT, PTR, DNSBL,
NXDOMAIN, SERVFAIL); services checks two processes started here under a unique name. Every fake listens on an
ephemeral loopback port (or a socket in the scratch directory) and is stopped at the end, also on failure.

Normalisation (see normalise()): every HELP and TYPE line and every series is kept as served, in order; the
scratch directory in label values becomes $TMP (REPO: $REPO). Values the run cannot fix are placeholders:
durations, the exporter's process_* values, build_info's version/revision/compiler labels and the sizes
statvfs gives for the scratch directory. Values computed from the exporter's clock are checked against
what the fixtures say, within the clock window of the served run (exporter_env.run_clock), and then shown as
the formula they satisfied: certificate expiry (<not_after - now>), queue ages and age sums (<now - T0 + N>,
T0 being the time the fixtures were written), last-success and reload timestamps (within the exporter's
lifetime). A value outside its window stays visible as "BAD: ..." in the diff. Everything else (counts, 0/1
states, timestamps from certificates, lookup counts, histogram buckets) is compared exactly.

UPDATE_GOLDEN=1 rewrites golden/scrape.golden from this run instead of comparing (it refuses while a check
says BAD); review the diff of the golden file before committing it.
"""
import base64
import difflib
import ipaddress
import os
import random
import re
import shutil
import socket
import ssl
import string
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from exporter_env import BIN, REPO, http, parse_metrics, run, run_clock, sample, wait  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
TESTDATA = os.path.join(REPO, "tests", "collectors", "testdata")
GOLDEN = os.path.join(FIXTURES, "scrape.golden")
COLLECTORS = ("filesystem", "postfix_queue", "certificates", "probes", "dns", "logs", "services")
LOG_FIXTURES = {"mail.log": "lab-traffic-mail.log", "dovecot.log": "lab-dovecot.log"}  # in tests/parse/testdata
FAIL2BAN_LOG = """\
2026-12-04 18:40:00,123 fail2ban.actions        [99]: NOTICE  [postfix-sasl] Ban 203.0.113.5
2026-12-04 18:40:01,123 fail2ban.actions        [99]: NOTICE  [postfix-sasl] Restore Ban 203.0.113.6
2026-12-04 18:40:02,123 fail2ban.actions        [99]: NOTICE  [sshd] Ban 203.0.113.7
"""
TIMEOUTS = {"probes": 3.0}  # seconds; the others take defaults.timeout of config.yml.in
DEFAULT_TIMEOUT = 5.0
QUEUES = ("active", "deferred", "hold", "incoming", "maildrop")
GOLDEN_HEADER = """\
## Golden normalised scrape of tests/integration/golden/config.yml.in (tests/integration/test_golden.py).
## Regenerate with UPDATE_GOLDEN=1 and review the diff; lines starting with ## are not compared.
"""

# ---- postfix_queue fixtures. Ages are seconds before T0; None: arrival an hour after T0 (clock skew: age 0).
# Every age is at least 200 s below the next histogram bound (60, 300, 900, 1800, 3600, 7200, 14400, 28800,
# 86400, 172800, 345600, 604800), more than the test can take to scrape (its waits are bounded well below
# that), so the buckets do not depend on how long it takes.
# showq: (queue, age, size, recipients' delay reasons ("" for none))
SHOWQ_MESSAGES = [
    ("active", 100, 1200, [""]),
    ("active", 8000, 64000, ["", ""]),
    ("deferred", 4000, 5000, ["connect to mx.example.net[192.0.2.1]:25: Connection refused",
                              "host mx.example.net[192.0.2.1] said: 452 4.2.2 Mailbox full (in reply to RCPT TO)"]),
    ("deferred", 50000, 2500, ["Host or domain name not found. Name service error for name=nowhere.test type=MX"]),
    ("deferred", 200000, 3000, ["TLS is required, but was not offered by host mx.example.net[192.0.2.1]",
                                "host mx.example.net[192.0.2.1] said: 450 4.7.1 Try again later",
                                "delivery temporarily suspended: unknown mail transport error",
                                "something odd happened", ""]),
    ("hold", 10000000, 900, [""]),
    ("maildrop", None, 300, [""]),
]
# spool: (queue, hash subdirectory, queue id, age, size); size None: a maildrop file without size and time
# records (the exporter then uses its mtime and file size, as showq does).
SPOOL_MESSAGES = [
    ("active", "", "4A1B2C3D4E", 100, 1500),
    ("deferred", "A", "A1B2C3D4E5", 20000, 2000),
    ("deferred", "B", "B2C3D4E5F6", 200000, 3500),
    ("hold", "", "C3D4E5F6A7", 700000, 10000),
    ("incoming", "", "D4E5F6A7B8", None, 800),
    ("maildrop", "", "E5F6A7B8C9", 500, None),
]

# ---- dns fixtures: name -> {type: [rdata]}; "*." names match any name below them. A name that is absent is
# NXDOMAIN; a present name without the type asked is NOERROR without records.
SPF = "v=spf1 ip4:203.0.113.10 include:_spf.example.test mx a exists:void.example.test -all"
SERVFAIL = {"_mta-sts.broken.test"}


def dkim_records():
    """The DKIM TXT records published for the key fixtures in golden/dkim (see make_keys.sh)."""
    with open(os.path.join(FIXTURES, "dkim", "mail.txt")) as f:
        mail = "".join(re.findall(r'"([^"]*)"', f.read()))

    def pem_der(name):
        with open(os.path.join(FIXTURES, "dkim", name)) as f:
            return base64.b64decode("".join(l for l in f.read().splitlines() if not l.startswith("-----")))
    ed = "v=DKIM1; k=ed25519; p=" + base64.b64encode(pem_der("ed.pub.pem")[12:]).decode()  # raw key after SPKI
    rotated = "v=DKIM1; k=rsa; p=" + base64.b64encode(pem_der("rotated-published.pub.pem")).decode()
    return mail, ed, rotated


def zone():
    mail, ed, rotated = dkim_records()
    return {
        "example.test": {"MX": [(10, "mail.example.test")], "A": ["203.0.113.10"],
                         "TXT": [SPF, "golden-site-verification=4711"]},
        "mail.example.test": {"A": ["203.0.113.10"], "AAAA": ["2001:db8::10"]},
        "10.113.0.203.in-addr.arpa": {"PTR": ["mail.example.test"]},
        ipaddress.ip_address("2001:db8::10").reverse_pointer: {"PTR": ["mail.example.test"]},
        "_spf.example.test": {"TXT": ["v=spf1 ip6:2001:db8::/32 -all"]},
        "_dmarc.example.test": {"TXT": ["v=DMARC1; p=quarantine; rua=mailto:dmarc@example.test"]},
        "_mta-sts.example.test": {"TXT": ["v=STSv1; id=20240301T120000"]},
        "_smtp._tls.example.test": {"TXT": ["v=TLSRPTv1; rua=mailto:tlsrpt@example.test"]},
        "mail._domainkey.example.test": {"TXT": [mail]},
        "ed._domainkey.example.test": {"TXT": [ed]},
        "rotated._domainkey.example.test": {"TXT": [rotated]},
        "unreadable._domainkey.example.test": {"TXT": [ed]},
        # gone._domainkey.example.test: NXDOMAIN
        "broken.test": {"MX": [(10, "mx.elsewhere.test")], "TXT": ["v=spf1 -all", "v=spf1 +all"]},
        "mail.broken.test": {"A": ["198.51.100.99"]},
        "20.100.51.198.in-addr.arpa": {"PTR": ["host.isp.test"]},
        "_dmarc.broken.test": {"TXT": ["v=DMARC1; p=none"]},
        "_smtp._tls.broken.test": {"TXT": ["v=TLSRPTv1; rua=nowhere"]},
        "mail._domainkey.broken.test": {"TXT": ["v=DKIM1; k=rsa; p=bm90IGEga2V5"]},
        "10.113.0.203.bl.example.test": {"A": ["127.0.0.2"]},
        "*.refuse.example.test": {"A": ["127.255.255.254"]},  # a blocklist refusing us
        "probe.example.test": {"A": ["127.0.0.1"]},  # the pop3 probe's host name
    }


# ---- fakes

class Conn:
    """One accepted connection: lines in, text out, STARTTLS on request."""

    def __init__(self, sock, tls_context):
        self.sock = sock
        self.tls_context = tls_context
        self.tls = False
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def _fill(self):
        d = self.sock.recv(4096)
        if not d:
            raise EOFError
        self.buf += d

    def line(self):
        while b"\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r").decode(errors="replace")

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def starttls(self):
        assert not self.buf, "client spoke before the TLS handshake"
        self.sock = self.tls_context.wrap_socket(self.sock, server_side=True)
        self.tls = True


class Fake:
    """A listening socket (loopback TCP on an ephemeral port, or a unix socket at `path`) whose connections
    are each served by `handler(Conn)` on a thread, until stop()."""

    def __init__(self, handler, tls_context=None, path=None, listen=True):
        self.handler = handler
        self.tls_context = tls_context
        self.sock = socket.socket(socket.AF_UNIX if path else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(path or ("127.0.0.1", 0))
        self.port = None if path else self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.conns = set()
        self.threads = []
        self.acceptor = None
        if listen:  # else: bound, not listening, so connecting is refused (and no one else can take the port)
            self.sock.listen(64)
            self.sock.settimeout(0.2)
            self.acceptor = threading.Thread(target=self._accept, daemon=True)
            self.acceptor.start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                s, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            s.settimeout(10)
            conn = Conn(s, self.tls_context)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self.lock:
                self.conns.add(conn)
                self.threads = [x for x in self.threads if x.is_alive()] + [t]
            t.start()

    def _serve(self, conn):
        try:
            self.handler(conn)
        except (OSError, EOFError, ssl.SSLError, ValueError, AssertionError):
            pass
        finally:
            with self.lock:
                self.conns.discard(conn)
            conn.sock.close()

    def stop(self):
        self.stopping.set()
        if self.acceptor:
            self.acceptor.join(5)
        self.sock.close()
        with self.lock:
            conns, threads = list(self.conns), list(self.threads)
        for c in conns:
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in threads:
            t.join(5)


def smtp_server(offer_starttls=True, auth_after_tls=False, implicit=False, reject=False):
    def handler(c):
        if implicit:
            c.starttls()
        if reject:
            c.send("554 5.7.1 golden: no SMTP service here\r\n")
            c.line()  # until the client hangs up
            return
        c.send("220-mail.example.test ESMTP golden\r\n220 mail.example.test ready\r\n")
        while True:
            cmd = c.line()
            verb = cmd.split(" ")[0].upper()
            if verb in ("EHLO", "LHLO"):
                caps = ["mail.example.test", "PIPELINING", "SIZE 10240000"]
                if offer_starttls and not c.tls:
                    caps.append("STARTTLS")
                if auth_after_tls and c.tls:
                    caps.append("AUTH PLAIN LOGIN")
                caps.append("8BITMIME")
                c.send("".join("250%s%s\r\n" % ("-" if i + 1 < len(caps) else " ", x) for i, x in enumerate(caps)))
            elif verb == "STARTTLS" and offer_starttls and not c.tls:
                c.send("220 2.0.0 Ready to start TLS\r\n")
                c.starttls()
            elif verb == "QUIT":
                c.send("221 2.0.0 Bye\r\n")
                return
            else:
                c.send("502 5.5.2 Error: command not recognized\r\n")
    return handler


def imap_server(c):
    c.send("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] golden ready\r\n")
    while True:
        tag, _, cmd = c.line().partition(" ")
        cmd = cmd.upper()
        if cmd == "CAPABILITY":
            caps = "IMAP4rev1 AUTH=PLAIN" if c.tls else "IMAP4rev1 STARTTLS LOGINDISABLED"
            c.send("* CAPABILITY %s\r\n%s OK Capability completed.\r\n" % (caps, tag))
        elif cmd == "STARTTLS" and not c.tls:
            c.send("%s OK Begin TLS negotiation now.\r\n" % tag)
            c.starttls()
        elif cmd == "LOGOUT":
            c.send("* BYE Logging out\r\n%s OK Logout completed.\r\n" % tag)
            return
        else:
            c.send("%s BAD Error in IMAP command.\r\n" % tag)


def garbage_server(c):
    c.send("HELLO THERE, I AM NO IMAP SERVER\r\n")
    c.line()


def pop3_server(c):
    c.send("+OK golden POP3 ready\r\n")
    while True:
        cmd = c.line().upper()
        if cmd == "CAPA":
            c.send("+OK\r\nTOP\r\nUIDL\r\nUSER\r\n" + ("" if c.tls else "STLS\r\n") + ".\r\n")
        elif cmd == "STLS" and not c.tls:
            c.send("+OK Begin TLS negotiation now.\r\n")
            c.starttls()
        elif cmd == "QUIT":
            c.send("+OK Logging out.\r\n")
            return
        else:
            c.send("-ERR Unknown command.\r\n")


def sieve_server(c):
    def capabilities():
        lines = ['"IMPLEMENTATION" "Golden Sieve"', '"SIEVE" "fileinto reject envelope"']
        if not c.tls:
            lines.append('"STARTTLS"')
        lines += ['"VERSION" "1.0"', 'OK "golden ready"']
        c.send("".join(x + "\r\n" for x in lines))
    capabilities()
    while True:
        cmd = c.line().upper()
        if cmd == "STARTTLS" and not c.tls:
            c.send('OK "Begin TLS negotiation now"\r\n')
            c.starttls()
            capabilities()  # RFC 5804 2.2
        elif cmd == "LOGOUT":
            c.send('OK "Logout completed"\r\n')
            return
        else:
            c.send('NO "Unknown command"\r\n')


def milter_server(c):
    while True:
        n = struct.unpack(">I", c.exact(4))[0]
        packet = c.exact(n)
        if packet[:1] == b"O":  # option negotiation: version 6, add headers, no steps skipped
            reply = b"O" + struct.pack(">III", 6, 0x01, 0)
            c.send(struct.pack(">I", len(reply)) + reply)
        elif packet[:1] == b"Q":
            return


def silent_server(c):
    while c.sock.recv(4096):
        pass


def showq_server(stream):
    def handler(c):
        c.send(stream)
    return handler


class FakeDns:
    """A UDP DNS server on 127.0.0.1 answering from a zone dict (A, AAAA, MX, TXT, PTR), NXDOMAIN for absent
    names and SERVFAIL for the names in `servfail`."""
    TYPES = {1: "A", 28: "AAAA", 15: "MX", 16: "TXT", 12: "PTR"}

    def __init__(self, records, servfail):
        self.records = {k.lower(): v for k, v in records.items()}
        self.servfail = servfail
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()

    def _serve(self):
        while not self.stopping.is_set():
            try:
                q, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                self.sock.sendto(self.answer(q), peer)
            except (ValueError, IndexError, struct.error, OSError):
                pass  # not a query we understand: no answer

    @staticmethod
    def encode_name(name):
        return b"".join(bytes([len(l)]) + l for l in name.encode().split(b".") if l) + b"\0"

    def rdata(self, rtype, value):
        if rtype == "A":
            return socket.inet_pton(socket.AF_INET, value)
        if rtype == "AAAA":
            return socket.inet_pton(socket.AF_INET6, value)
        if rtype == "MX":
            return struct.pack(">H", value[0]) + self.encode_name(value[1])
        if rtype == "PTR":
            return self.encode_name(value)
        data = value.encode()  # TXT: strings of at most 255 bytes
        return b"".join(bytes([len(data[i:i + 255])]) + data[i:i + 255] for i in range(0, len(data), 255))

    def lookup(self, name):
        if name in self.records:
            return self.records[name]
        for key, rrs in self.records.items():
            if key.startswith("*.") and name.endswith(key[1:]):
                return rrs
        return None

    def answer(self, q):
        qid, flags, qdcount, _, _, arcount = struct.unpack(">HHHHHH", q[:12])
        if qdcount != 1:
            raise ValueError("one question per query")
        pos, labels = 12, []
        while q[pos]:
            labels.append(q[pos + 1:pos + 1 + q[pos]])
            pos += 1 + q[pos]
        qtype = struct.unpack(">H", q[pos + 1:pos + 3])[0]
        question = q[12:pos + 5]
        name = b".".join(labels).decode().lower()
        rrs = self.lookup(name)
        answers = []
        if name in self.servfail:
            rcode = 2
        elif rrs is None:
            rcode = 3
        else:
            rcode = 0
            rtype = self.TYPES.get(qtype)
            for value in rrs.get(rtype, []) if rtype else []:
                data = self.rdata(rtype, value)
                answers.append(b"\xc0\x0c" + struct.pack(">HHIH", qtype, 1, 300, len(data)) + data)
        opt = b"\0" + struct.pack(">HHIH", 41, 1232, 0, 0) if arcount else b""  # EDNS if asked
        header = struct.pack(">HHHHHH", qid, 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode, 1,
                             len(answers), 0, 1 if opt else 0)
        return header + question + b"".join(answers) + opt


# ---- queue fixtures

def showq_stream(t0):
    """Postfix's showq stream (as `postqueue -j` reads it) of SHOWQ_MESSAGES."""
    out = [b"protocol\0mail_queue_list_protocol\0\0"]
    for n, (queue, age, size, reasons) in enumerate(SHOWQ_MESSAGES):
        arrival = t0 + 3600 if age is None else t0 - age
        rec = "queue_name\0%s\0queue_id\0GOLD%04d\0time\0%d\0size\0%d\0forced_expire\0%d\0sender\0%s\0" % (
            queue, n, arrival, size, 0, "sender@example.test")
        for i, reason in enumerate(reasons):
            rec += "recipient\0rcpt%d@example.net\0" % i
            if reason:
                rec += "reason\0%s\0" % reason
        out.append(rec.encode() + b"\0")
    out.append(b"\0")
    return b"".join(out)


def queue_record(rtype, data):
    data = data.encode()
    assert len(data) < 128  # a one-byte length
    return rtype.encode() + bytes([len(data)]) + data


def write_spool(root, t0):
    """A Postfix queue_directory with SPOOL_MESSAGES, and entries the walk must skip."""
    for q in QUEUES:
        os.makedirs(os.path.join(root, q))
    for queue, sub, qid, age, size in SPOOL_MESSAGES:
        d = os.path.join(root, queue, sub)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, qid)
        arrival = t0 + 3600 if age is None else t0 - age
        with open(path, "wb") as f:
            if size is not None:
                f.write(queue_record("C", "%15d %15d %15d %15d %15d" % (size, 200, 1, 0, size)))
                f.write(queue_record("T", "%d %d" % (arrival, 123456)))
            f.write(queue_record("S", "sender@example.test"))
            f.write(queue_record("M", ""))
            f.write(b"X" * 333)  # message content
        os.chmod(path, 0o700)  # complete queue files are 0700 (showq's mail_open_ok)
        os.utime(path, (arrival, arrival))
    with open(os.path.join(root, "active", "F6A7B8C9D0"), "wb") as f:  # still being written: 0600
        f.write(queue_record("C", "%15d" % 999))
    os.chmod(os.path.join(root, "active", "F6A7B8C9D0"), 0o600)
    with open(os.path.join(root, "deferred", "A", ".hidden"), "wb") as f:
        f.write(b"x")
    with open(os.path.join(root, "incoming", "not-a-queue-id"), "wb") as f:
        f.write(b"x")
    os.chmod(os.path.join(root, "incoming", "not-a-queue-id"), 0o700)
    os.symlink(os.path.join(root, "hold", "C3D4E5F6A7"), os.path.join(root, "active", "A7B8C9D0E1"))


def queue_expectations():
    """{(instance, queue): (messages, ages in seconds before T0 of those not in the future)}."""
    out = {}
    for inst, messages in (("showq", [(m[0], m[1]) for m in SHOWQ_MESSAGES]),
                           ("spool", [(m[0], m[3]) for m in SPOOL_MESSAGES])):
        for q in QUEUES:
            ages = [age for queue, age in messages if queue == q]
            out[(inst, q)] = (len(ages), [a for a in ages if a is not None])
    return out


# ---- normalisation

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def parse_labels(text):
    labels, pos = [], 0
    while pos < len(text):
        m = LABEL.match(text, pos)
        if not m:
            raise ValueError("bad label set {%s}" % text)
        labels.append((m.group(1), re.sub(r"\\(.)", lambda e: "\n" if e.group(1) == "n" else e.group(1),
                                          m.group(2))))
        pos = m.end()
    return labels


def format_labels(labels):
    esc = lambda v: v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")  # noqa: E731
    return "{%s}" % ",".join('%s="%s"' % (k, esc(v)) for k, v in labels) if labels else ""


class Normaliser:
    """Turns a scrape into the golden form (see the module docstring). The checks need the scratch directory,
    T0, the exporter's lifetime (launched, ready: Unix times around its start; scraped: after the scrape) and
    the parsed scrape `metrics` (for run_clock and not_after)."""

    def __init__(self, tmp, t0, launched, ready, scraped, metrics):
        self.tmp, self.t0, self.launched, self.ready, self.scraped, self.m = tmp, t0, launched, ready, scraped, metrics
        self.queues = queue_expectations()

    def clock(self, collector):
        return run_clock(self.m, collector)

    @staticmethod
    def within(value, lo, hi, placeholder):
        if lo <= value <= hi:
            return placeholder
        return "%s BAD: got %r, want within [%r, %r]" % (placeholder, value, lo, hi)

    def path(self, v):
        return v.replace(self.tmp, "$TMP").replace(REPO, "$REPO")

    def value(self, name, labels, raw):
        d = dict(labels)
        v = float(raw)
        if name.startswith("process_"):
            return "<process>"
        if name == "mailstack_log_last_line_timestamp_seconds":
            # Year-less syslog times: this year's, or last year's if that would be ahead of now.
            return self.within(v, *line_time_window(d["source"]), "<newest line's time>")
        if name == "mailstack_exporter_config_last_reload_success_timestamp_seconds":
            return self.within(v, self.launched, self.ready, "<load time>")
        if name == "mailstack_collector_last_success_timestamp_seconds":
            return self.within(v, self.launched, self.scraped, "<run end time>")
        if name == "mailstack_collector_duration_seconds":
            return self.within(v, 0, TIMEOUTS.get(d["collector"], DEFAULT_TIMEOUT), "<duration>")
        if name == "mailstack_probe_duration_seconds":
            return self.within(v, 0, TIMEOUTS["probes"], "<duration>")
        if name.startswith("mailstack_filesystem_") and d.get("path") == self.tmp:
            st = os.statvfs(self.tmp)
            exact = {"mailstack_filesystem_size_bytes": st.f_blocks * st.f_frsize,
                     "mailstack_filesystem_files": st.f_files}
            if name in exact:  # fixed by the filesystem, but not by the fixtures
                return self.within(v, exact[name], exact[name], "<statvfs>")
            if name != "mailstack_filesystem_readonly" and name != "mailstack_filesystem_device_error":
                return "<statvfs, varies>"
        if name == "mailstack_tls_certificate_expiry_seconds":
            not_after = sample(self.m, "mailstack_tls_certificate_not_after_timestamp_seconds", **d)
            earliest, latest = self.clock("certificates" if d["source"] == "file" else "probes")
            return self.within(v, not_after - latest, not_after - earliest, "<not_after - now>")
        if name == "mailstack_postfix_queue_oldest_message_age_seconds":
            _, ages = self.queues[(d["postfix_instance"], d["queue"])]
            if not ages:
                return raw  # empty, or only mail from the future: exactly 0
            earliest, latest = self.clock("postfix_queue")
            oldest = max(ages)
            return self.within(v, earliest - self.t0 + oldest, latest - self.t0 + oldest, "<now - T0 + %d>" % oldest)
        if name == "mailstack_postfix_queue_message_age_seconds_sum":
            _, ages = self.queues[(d["postfix_instance"], d["queue"])]
            if not ages:
                return raw
            earliest, latest = self.clock("postfix_queue")
            k, s = len(ages), sum(ages)
            return self.within(v, k * (earliest - self.t0) + s, k * (latest - self.t0) + s,
                               "<%d * (now - T0) + %d>" % (k, s))
        return raw

    def normalise(self, text):
        out = []
        for line in text.splitlines():
            if line.startswith("#"):
                out.append(line)
                continue
            m = SAMPLE.match(line)
            if not m:
                out.append("UNPARSED: " + line)
                continue
            name, label_text, raw = m.groups()
            served = parse_labels(label_text or "")
            value = self.value(name, served, raw)
            labels = [(k, self.path(v)) for k, v in served]
            if name == "mailstack_exporter_build_info":
                labels = [(k, "<build>" if k in ("version", "revision", "compiler") else v) for k, v in labels]
            out.append(name + format_labels(labels) + " " + value)
        return "\n".join(out) + "\n"


def newest_line(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace").splitlines()[-1]


def line_time_window(source):
    """(t, t): the Unix time the exporter must give the newest line of `source`, or (inf, -inf) for none."""
    line = newest_line(source)
    if " fail2ban." in line[:40]:
        t = time.mktime(time.strptime(line[:19], "%Y-%m-%d %H:%M:%S"))
        return t, t
    now = time.time()
    year = time.localtime(now).tm_year
    for y in (year, year - 1):
        t = time.mktime(time.strptime("%d %s" % (y, " ".join(line[:15].split())), "%Y %b %d %H:%M:%S"))
        if t <= now + 86400:
            return t, t
    return float("inf"), float("-inf")


def read_golden():
    with open(GOLDEN) as f:
        return "".join(l for l in f.readlines() if not l.startswith("##"))


# ---- the test

def comm_of(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


class GoldenScrapeTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mailstack-golden-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.t0 = int(time.time())
        subst = {"TMP": self.tmp, "FIXTURES": FIXTURES, "TESTDATA": TESTDATA}

        # postfix_queue
        write_spool(os.path.join(self.tmp, "spool"), self.t0)
        subst["SHOWQ_SOCK"] = os.path.join(self.tmp, "showq.sock")
        self.start(Fake(showq_server(showq_stream(self.t0)), path=subst["SHOWQ_SOCK"]))

        # certificates: a fixed set of the unit tests' fixtures (fixed dates), one of them not a certificate
        os.makedirs(os.path.join(self.tmp, "certs"))
        for name in ("expired.pem", "fullchain.pem", "garbage.pem", "intermediate.pem", "leaf.pem", "self.pem"):
            shutil.copy(os.path.join(TESTDATA, "certs", name), os.path.join(self.tmp, "certs", name))

        # logs: the lab's real logs, a fail2ban log, a missing file
        for name, fixture in LOG_FIXTURES.items():
            shutil.copy(os.path.join(REPO, "tests", "parse", "testdata", fixture), os.path.join(self.tmp, name))
        with open(os.path.join(self.tmp, "fail2ban.log"), "w") as f:
            f.write(FAIL2BAN_LOG)

        # dns (also the probes' resolver)
        subst["DNS_PORT"] = self.start(FakeDns(zone(), SERVFAIL)).port

        # probes
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(os.path.join(FIXTURES, "certs", "fullchain.pem"),
                            os.path.join(FIXTURES, "certs", "server.key"))
        for key, handler in (("SMTP_PORT", smtp_server()),
                             ("SUBMISSIONS_PORT", smtp_server(offer_starttls=False, auth_after_tls=True,
                                                              implicit=True)),
                             ("IMAP_PORT", imap_server), ("POP3_PORT", pop3_server), ("SIEVE_PORT", sieve_server),
                             ("MILTER_PORT", milter_server), ("REJECT_PORT", smtp_server(reject=True)),
                             ("NO_STARTTLS_PORT", smtp_server(offer_starttls=False)),
                             ("GARBAGE_PORT", garbage_server), ("SILENT_PORT", silent_server)):
            subst[key] = self.start(Fake(handler, tls)).port
        subst["LMTP_SOCK"] = os.path.join(self.tmp, "lmtp.sock")
        self.start(Fake(smtp_server(offer_starttls=False), path=subst["LMTP_SOCK"]))
        subst["CLOSED_PORT"] = self.start(Fake(None, listen=False)).port

        # services: two processes under a name nothing else on this machine has, and a name nobody has
        tag = "%08x" % random.getrandbits(32)
        subst["PROC_RUNNING"], subst["PROC_ABSENT"] = "gold-" + tag, "gone-" + tag
        os.makedirs(os.path.join(self.tmp, "bin"))
        sleeper = os.path.join(self.tmp, "bin", subst["PROC_RUNNING"])
        shutil.copy(shutil.which("sleep"), sleeper)
        for _ in range(2):
            p = subprocess.Popen([sleeper, "3600"])
            self.addCleanup(self.stop_process, p)
            wait(lambda: comm_of(p.pid) == subst["PROC_RUNNING"], 10, "process %s started" % subst["PROC_RUNNING"])

        with open(os.path.join(FIXTURES, "config.yml.in")) as f:
            config = string.Template(f.read()).substitute({k: str(v) for k, v in subst.items()})
        self.config = os.path.join(self.tmp, "config.yml")
        with open(self.config, "w") as f:
            f.write(config)
        r = run([BIN, "--config.file=" + self.config, "--config.check"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.start_exporter()

    def start(self, fake):
        self.addCleanup(fake.stop)
        return fake

    @staticmethod
    def stop_process(p):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)

    def exporter_log(self):
        with open(self.log) as f:
            return f.read()

    def start_exporter(self):
        """Starts the exporter on a free ephemeral port (another one if that was taken meanwhile)."""
        self.log = os.path.join(self.tmp, "exporter.log")
        for _ in range(3):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            s.close()
            self.launched = time.time()
            with open(self.log, "a") as log:
                p = subprocess.Popen([BIN, "--config.file=" + self.config, "--web.listen-address=127.0.0.1:%d" % port],
                                     stdout=log, stderr=subprocess.STDOUT)
            self.addCleanup(self.stop_process, p)
            end = time.monotonic() + 20
            while time.monotonic() < end and p.poll() is None:
                if http("http://127.0.0.1:%d/-/ready" % port, timeout=1)[0] == 200:
                    self.ready = time.time()
                    self.port = port
                    return
                time.sleep(0.05)
            self.stop_process(p)
        self.fail("the exporter did not become ready; its log:\n" + self.exporter_log()[-3000:])

    def settled_scrape(self):
        """(body, time after it) of the first scrape in which every collector's latest run succeeded."""
        def settled():
            status, _, body = http("http://127.0.0.1:%d/metrics" % self.port)
            m = parse_metrics(body) if status == 200 else {}
            if all(sample(m, "mailstack_collector_success", collector=c) == 1 for c in COLLECTORS):
                return body, time.time(), m
            return None
        try:
            return wait(settled, 60, "a scrape with every collector's run successful")
        except AssertionError as e:
            raise AssertionError("%s; the exporter's log:\n%s" % (e, self.exporter_log()[-3000:])) from None

    def test_full_scrape_matches_golden(self):
        body, scraped, m = self.settled_scrape()
        self.assertLess(scraped - self.t0, 200, "the queue fixtures' histogram buckets hold for 200 s after T0")
        actual = Normaliser(self.tmp, self.t0, self.launched, self.ready, scraped, m).normalise(body)
        if os.environ.get("UPDATE_GOLDEN") == "1":
            self.assertNotIn(" BAD: ", actual, "not writing a golden file with failed checks:\n" + actual)
            with open(GOLDEN, "w") as f:
                f.write(GOLDEN_HEADER + actual)
            print("\nwrote %s (%d lines)" % (GOLDEN, actual.count("\n")), file=sys.stderr)
            return
        expected = read_golden()
        if actual != expected:
            diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                                "golden/scrape.golden", "this scrape (normalised)"))
            self.fail("the normalised scrape differs from golden/scrape.golden (UPDATE_GOLDEN=1 rewrites it):\n" +
                      diff)


if __name__ == "__main__":
    unittest.main(verbosity=2)
