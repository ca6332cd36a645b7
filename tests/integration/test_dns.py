"""dns collector against the lab's real nsd (c-ares pointed at 127.0.0.1:5353, nothing else resolves).

Six mail domains cover every record the collector checks, each value worked out BY HAND from the RFCs in the
comments next to the zones (this test is an independent check of the implementation, not a copy of it):
example.test is healthy (three DKIM selectors: the lab's 2048-bit key, a published key that is not the
key_file, an ed25519 key) and v6.test adds IPv6 (AAAA, ip6.arpa PTR, nibble-form DNSBL name) with DMARC p=none;
broken.test is the lab's broken zone; chain.test has an SPF include/redirect tree of exactly 7 DNS-querying
terms that authorizes its address two includes deep; overlimit.test needs 12 terms, so evaluation stops with
permerror at the 11th; void.test stops at its 3rd void lookup. bl.test (RFC 5782) lists 127.0.0.2 and the IPv6
address and answers 127.255.255.254 ("error") for 127.0.0.1.
A second exporter also checks a domain nsd does not serve (REFUSED: a failed lookup, not "no record"); a third
uses a resolver that never answers: its run ends by the collector's timeout and the exporter keeps serving.
"""
import base64
import os
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import lab as labmod  # noqa: E402
from exporter_env import get_metrics, http, run, sample, slowest_scrape, start_exporter, wait  # noqa: E402

LAB = None
PORT = None          # exporter checking the six domains and bl.test
PARTIAL_PORT = None  # exporter checking example.test and unserved.test (not served by nsd: REFUSED)
DEAD_PORT = None     # exporter whose resolver never answers
SILENT = None        # the UDP socket behind DEAD_PORT's resolver
KEYS = {}

RECORDS = ("mx", "a", "aaaa", "ptr", "spf", "dmarc", "mta_sts", "tls_rpt")
DOMAINS = ("example.test", "broken.test", "v6.test", "chain.test", "overlimit.test", "void.test")
V6 = "2001:db8::25"
# RFC 3596 2.5 / RFC 5782 2.4: the 32 nibbles of 2001:0db8:0000:0000:0000:0000:0000:0025, least significant
# first. Written out by hand; test_z_fixture_sanity compares it with Python's ipaddress.
V6_NIBBLES = "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"
V6_PTR_ZONE = "8.b.d.0.1.0.0.2.ip6.arpa"          # 2001:db8::/32
V6_PTR_OWNER = "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"   # the other 24 nibbles

# ---------------------------------------------------------------------------------------------------------
# Expected values, by hand. (present, valid) per domain and record; reasons in the zone comments below.
EXPECTED_RECORDS = {
    # Default zone. aaaa: no AAAA for mail.example.test and no IPv6 address configured -> "both empty":
    # present 0, valid 1. Everything else present and valid.
    "example.test": {"mx": (1, 1), "a": (1, 1), "aaaa": (0, 1), "ptr": (1, 1), "spf": (1, 1),
                     "dmarc": (1, 1), "mta_sts": (1, 1), "tls_rpt": (1, 1)},
    # Default broken zone, mail_host mismatch.broken.test, ips [127.0.0.2]:
    # mx: one MX, naming mx.elsewhere.test, not mail_host -> 1/0.
    # a: mismatch.broken.test A {127.0.0.9} != {127.0.0.2} -> 1/0.   aaaa: both empty -> 0/1.
    # ptr: 127.0.0.2 has a PTR (mismatch.broken.test. = mail_host) -> present 1, but that name resolves to
    #   127.0.0.9 only, not back to 127.0.0.2 -> valid 0 (only the forward-confirmation half fails).
    # spf: one v=spf1 record "ip4:127.0.0.256 +foo ~al": 127.0.0.256 is not an IPv4 address, "foo" is not a
    #   mechanism, "~al" is neither "~all" nor a known mechanism: syntax error = permerror -> 1/0.
    # dmarc, mta_sts, tls_rpt: no _dmarc, _mta-sts, _smtp._tls names -> 0/0.
    "broken.test": {"mx": (1, 0), "a": (1, 0), "aaaa": (0, 1), "ptr": (1, 0), "spf": (1, 0),
                    "dmarc": (0, 0), "mta_sts": (0, 0), "tls_rpt": (0, 0)},
    # ips [127.0.0.3, 2001:db8::25]: A set {127.0.0.3} and AAAA set {2001:db8::25} equal the configured ones
    # per family; both PTRs name mail.v6.test., which resolves back to each. No MTA-STS, no TLS-RPT.
    "v6.test": {"mx": (1, 1), "a": (1, 1), "aaaa": (1, 1), "ptr": (1, 1), "spf": (1, 1),
                "dmarc": (1, 1), "mta_sts": (0, 0), "tls_rpt": (0, 0)},
    # ptr: 127.0.0.4 PTR other.chain.test. (which does resolve back to 127.0.0.4) but mail_host is
    #   mail.chain.test -> present 1, valid 0 (only the "names mail_host" half fails).
    # mx: two MX, the preference-10 one is mail.chain.test -> 1/1.
    # mta_sts "v=STSv1;" without id= (RFC 8461 3.1 requires it) -> 1/0; tls_rpt "v=TLSRPTv1;" without rua=
    #   (RFC 8460 3 requires it) -> 1/0.
    "chain.test": {"mx": (1, 1), "a": (1, 1), "aaaa": (0, 1), "ptr": (1, 0), "spf": (1, 1),
                   "dmarc": (1, 1), "mta_sts": (1, 0), "tls_rpt": (1, 0)},
    # ptr: no PTR for 127.0.0.5 (NXDOMAIN in the served 127.in-addr.arpa) -> 0/0.
    # spf: permerror (11th DNS term) -> 1/0. dmarc: TWO v=DMARC1 records (RFC 7489 6.6.3: more than one
    #   record = no policy) -> present 1, valid 0.
    "overlimit.test": {"mx": (1, 1), "a": (1, 1), "aaaa": (0, 1), "ptr": (0, 0), "spf": (1, 0),
                       "dmarc": (1, 0), "mta_sts": (0, 0), "tls_rpt": (0, 0)},
    # ptr: no PTR for 127.0.0.6 -> 0/0. spf: permerror (3rd void lookup) -> 1/0. No DMARC.
    "void.test": {"mx": (1, 1), "a": (1, 1), "aaaa": (0, 1), "ptr": (0, 0), "spf": (1, 0),
                  "dmarc": (0, 0), "mta_sts": (0, 0), "tls_rpt": (0, 0)},
}
# mailstack_spf_dns_lookups / mailstack_spf_void_lookups: counted "as for an IP that matches no mechanism"
# (RFC 7208 4.6.4); derivations at the zones. broken.test's record does not parse, so no term is ever
# evaluated: 0, or no series at all (both accepted).
EXPECTED_SPF_LOOKUPS = {"example.test": 0, "v6.test": 0, "chain.test": 7, "overlimit.test": 11, "void.test": 3}
EXPECTED_SPF_VOID = {"example.test": 0, "v6.test": 0, "chain.test": 1, "overlimit.test": 0, "void.test": 3}
# check_host() result is "pass" for (domain, ip):
EXPECTED_AUTHORIZES = {
    ("example.test", "127.0.0.1"): 1,   # ip4:127.0.0.1
    ("broken.test", "127.0.0.2"): 0,    # permerror (syntax)
    ("v6.test", "127.0.0.3"): 1,        # ip4:127.0.0.3
    ("v6.test", V6): 1,                 # ip6:2001:db8::/64
    ("chain.test", "127.0.0.4"): 1,     # include:_spf1 -> include:_spf2 -> ip4:127.0.0.4 (pass, pass, pass)
    ("overlimit.test", "127.0.0.5"): 0,  # ip4:127.0.0.5 comes after the 11th DNS term: permerror first
    ("void.test", "127.0.0.6"): 0,      # ip4:127.0.0.6 comes after the 3rd void lookup: permerror first
}
# PTR of ip names mail_host AND mail_host resolves back to ip:
EXPECTED_REVERSE = {
    ("example.test", "127.0.0.1"): 1,   # mail.example.test. -> A 127.0.0.1
    ("broken.test", "127.0.0.2"): 0,    # mismatch.broken.test. (= mail_host) -> A 127.0.0.9 only
    ("v6.test", "127.0.0.3"): 1,        # mail.v6.test. -> A 127.0.0.3
    ("v6.test", V6): 1,                 # mail.v6.test. -> AAAA 2001:db8::25
    ("chain.test", "127.0.0.4"): 0,     # other.chain.test. != mail.chain.test (although it resolves back)
    ("overlimit.test", "127.0.0.5"): 0,  # no PTR
    ("void.test", "127.0.0.6"): 0,      # no PTR
}
EXPECTED_DMARC = {"example.test": "reject", "v6.test": "none", "chain.test": "quarantine"}
# DNSBL: every configured ip (union over the domains) in bl.test. RFC 5782 2.1/2.3: listed = an A record in
# 127.0.0.0/8; 127.255.255.x is an error answer (listed 0, query error 1); NXDOMAIN = not listed, no error.
EXPECTED_DNSBL = {  # ip: (listed, query_error)
    "127.0.0.1": (0, 1),   # 1.0.0.127.bl.test A 127.255.255.254
    "127.0.0.2": (1, 0),   # 2.0.0.127.bl.test A 127.0.0.2 (the RFC 5782 test entry)
    "127.0.0.3": (0, 1),   # 3.0.0.127.bl.test A 127.0.0.1: RFC 5782 2.1 forbids it as a listing (lists use it for "refused")
    "127.0.0.4": (0, 0),
    "127.0.0.5": (0, 0),
    "127.0.0.6": (0, 0),
    V6: (1, 0),            # <32 nibbles>.bl.test A 127.0.0.2
}


def make_keys(root):
    """Two extra DKIM keys, generated fresh: an RSA-1024 key published as selector "old" (its key_file in the
    config is the lab's mail.private, so DNS != key_file) and an ed25519 key (RFC 8463: p= is the raw 32-byte
    public key, not a SubjectPublicKeyInfo)."""
    d = os.path.join(root, "dns-keys")
    os.makedirs(d, exist_ok=True)
    old, ed = os.path.join(d, "old.private"), os.path.join(d, "ed.private")
    for path, args in ((old, ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"]),
                       (ed, ["-algorithm", "ed25519"])):
        if not os.path.exists(path):
            subprocess.run(["openssl", "genpkey"] + args + ["-out", path], check=True, capture_output=True)

    def pub_der(path):
        return subprocess.run(["openssl", "pkey", "-in", path, "-pubout", "-outform", "DER"], check=True,
                              capture_output=True).stdout
    ed_der = pub_der(ed)
    assert len(ed_der) == 44 and ed_der[:12] == bytes.fromhex("302a300506032b6570032100"), ed_der.hex()
    return {"old_p": base64.b64encode(pub_der(old)).decode(), "ed_p": base64.b64encode(ed_der[12:]).decode()}


def build_zones(lab, keys):
    """LAB.default_zones() plus the zones of this test. Every expected value above follows from these."""
    zones = lab.default_zones()
    # example.test: selectors "mail" (default zone: the lab's 2048-bit key), "old" and "ed"; "nosuch" has no
    # record at all.
    zones["example.test"] += (
        'old._domainkey  TXT "v=DKIM1; k=rsa; p=%s"\n'
        'ed._domainkey   TXT "v=DKIM1; k=ed25519; p=%s"\n' % (keys["old_p"], keys["ed_p"]))
    zones["127.in-addr.arpa"] += (
        "3.0.0           PTR     mail.v6.test.\n"
        "4.0.0           PTR     other.chain.test.\n")   # 127.0.0.5 and 127.0.0.6: deliberately no PTR
    zones[V6_PTR_ZONE] = "%s PTR mail.v6.test.\n" % V6_PTR_OWNER
    zones["bl.test"] += '%s A 127.0.0.2\n%s TXT "listed in bl.test (IPv6 lab fixture)"\n' % (
        V6_NIBBLES, V6_NIBBLES)
    zones["bl.test"] += "3.0.0.127       A       127.0.0.1\n"
    zones["v6.test"] = """\
@               MX      10 mail.v6.test.
mail            A       127.0.0.3
mail            AAAA    2001:db8::25
; no DNS-querying term: 0 lookups, 0 void; 127.0.0.3 matches ip4, 2001:db8::25 matches the /64
@               TXT     "v=spf1 ip4:127.0.0.3 ip6:2001:db8::/64 -all"
_dmarc          TXT     "v=DMARC1; p=none; rua=mailto:dmarc@v6.test"
"""
    # SPF tree of chain.test, walked for an address that matches nothing (RFC 7208 4.6.4; ip4/ip6/all are
    # free, the address lookups of the two MX hosts do not count as terms):
    #   chain.test:  include:_spf1.chain.test ............................ 1
    #     _spf1:     include:_spf2.chain.test ............................ 2
    #       _spf2:   a:relay.chain.test (127.0.0.50, no match) ........... 3   ip4:127.0.0.4; -all -> fail
    #     _spf1:     (include result fail = no match) -all -> fail
    #   chain.test:  (include result fail = no match)
    #                mx (mail.chain.test 127.0.0.4, mx2 127.0.0.51) ...... 4
    #                a  (chain.test A 127.0.0.52) ........................ 5
    #                exists:void.chain.test (NXDOMAIN: void lookup 1) .... 6
    #                redirect=_spf3.chain.test (no "all" in the record) .. 7   _spf3: ip4 only, -all
    #   => mailstack_spf_dns_lookups 7, void 1 (<= 2), valid 1.
    # check_host(127.0.0.4): _spf2's ip4:127.0.0.4 matches -> _spf2 pass -> include in _spf1 matches -> _spf1
    # pass -> include in chain.test matches -> pass (authorizes 1).
    # Cross-checked with pyspf 2.0.14 (Debian python3-spf) against this nsd: 192.0.2.1 -> fail, lookups 7,
    # void 1; overlimit.test -> permerror, lookups 11; void.test -> permerror, lookups 3, void 3.
    zones["chain.test"] = """\
@               A       127.0.0.52
@               MX      10 mail.chain.test.
@               MX      20 mx2.chain.test.
mail            A       127.0.0.4
mx2             A       127.0.0.51
relay           A       127.0.0.50
other           A       127.0.0.4
@               TXT     "v=spf1 include:_spf1.chain.test mx a exists:void.chain.test redirect=_spf3.chain.test"
_spf1           TXT     "v=spf1 include:_spf2.chain.test -all"
_spf2           TXT     "v=spf1 a:relay.chain.test ip4:127.0.0.4 -all"
_spf3           TXT     "v=spf1 ip4:203.0.113.0/24 -all"
_dmarc          TXT     "v=DMARC1; p=quarantine"
_mta-sts        TXT     "v=STSv1;"
_smtp._tls      TXT     "v=TLSRPTv1;"
"""
    # overlimit.test: 12 DNS-querying terms before ip4:127.0.0.5:
    #   include:_spf.overlimit.test ................................. 1
    #     _spf: a:h1 a:h2 a:h3 a:h4 (127.0.0.60, no match) ........... 2 3 4 5   -all -> fail, no match
    #   a:h1 a:h2 a:h3 a:h4 a:h5 ...................................... 6 7 8 9 10
    #   a:h6 .......................................................... 11 > 10 -> permerror, evaluation stops
    #   (a:h7 = 12, ip4:127.0.0.5 and -all are never reached)
    #   => lookups 11 (the count when evaluation stopped), void 0, valid 0, check_host(127.0.0.5) = permerror.
    # loop.test includes itself: every round is one more include, the 11th is over the limit (RFC 7208
    # 4.6.4), so the loop ends as permerror with 11 lookups counted, never as a hang.
    zones["loop.test"] = '@               TXT     "v=spf1 include:loop.test -all"\n'
    zones["overlimit.test"] = """\
@               MX      10 mail.overlimit.test.
mail            A       127.0.0.5
h1              A       127.0.0.60
h2              A       127.0.0.60
h3              A       127.0.0.60
h4              A       127.0.0.60
h5              A       127.0.0.60
h6              A       127.0.0.60
h7              A       127.0.0.60
@               TXT     "v=spf1 include:_spf.overlimit.test a:h1.overlimit.test a:h2.overlimit.test a:h3.overlimit.test a:h4.overlimit.test a:h5.overlimit.test a:h6.overlimit.test a:h7.overlimit.test ip4:127.0.0.5 -all"
_spf            TXT     "v=spf1 a:h1.overlimit.test a:h2.overlimit.test a:h3.overlimit.test a:h4.overlimit.test -all"
_dmarc          TXT     "v=DMARC1; p=reject"
_dmarc          TXT     "v=DMARC1; p=none"
"""
    # void.test (RFC 7208 4.6.4: more than 2 void lookups -> permerror):
    #   a:nx1.void.test ....... term 1, NXDOMAIN ........................ void 1
    #   mx:nodata.void.test ... term 2, NOERROR with no MX (name has TXT) void 2
    #   exists:nx2.void.test .. term 3, NXDOMAIN ........................ void 3 > 2 -> permerror, stop
    #   (a:nx3 would be void 4, ip4:127.0.0.6 is never reached)
    #   => lookups 3, void 3, valid 0, check_host(127.0.0.6) = permerror.
    zones["void.test"] = """\
@               MX      10 mail.void.test.
mail            A       127.0.0.6
nodata          TXT     "this name exists but has no A and no MX"
@               TXT     "v=spf1 a:nx1.void.test mx:nodata.void.test exists:nx2.void.test a:nx3.void.test ip4:127.0.0.6 -all"
"""
    return zones


def exporter_config(dns_section, interval="2s", timeout="1500ms"):
    return "\n".join([
        "defaults: {interval: %s, timeout: %s}" % (interval, timeout),
        "collectors:",
        "  filesystem: {enabled: false}",
        "  postfix_queue: {enabled: false}",
        "  dns:",
    ] + ["    " + line for line in dns_section]) + "\n"


def main_dns_section(lab):
    key = lab.dkim_key_file
    return [
        "resolver: '127.0.0.1:%d'" % lab.ports["dns"],
        "domains:",
        "  - domain: example.test",
        "    mail_host: mail.example.test",
        "    ips: [127.0.0.1]",
        "    dkim:",
        "      - {selector: mail, key_file: %s}" % key,    # the key DNS publishes: matches
        "      - {selector: old, key_file: %s}" % key,     # DNS has another key: mismatch
        "      - {selector: ed}",                          # no key_file: no key_matches series
        "      - {selector: nosuch}",                      # no record
        "  - domain: broken.test",
        "    mail_host: mismatch.broken.test",
        "    ips: [127.0.0.2]",
        "    dkim: [{selector: mail}]",                    # truncated key
        "  - {domain: v6.test, mail_host: mail.v6.test, ips: [127.0.0.3, '%s']}" % V6,
        "  - {domain: chain.test, mail_host: mail.chain.test, ips: [127.0.0.4]}",
        "  - {domain: overlimit.test, mail_host: mail.overlimit.test, ips: [127.0.0.5]}",
        "  - {domain: void.test, mail_host: mail.void.test, ips: [127.0.0.6]}",
        "  - {domain: loop.test}",                         # SPF only: an include of itself
        "dnsbl:",
        "  zones: [bl.test]",
    ]




class SilentResolver(threading.Thread):
    """A bound UDP socket that reads queries and never answers (counts them)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.queries = 0
        self.start()

    def run(self):
        while True:
            try:
                self.sock.recvfrom(4096)
            except OSError:
                return
            self.queries += 1

    def stop(self):
        self.sock.close()


def setUpModule():
    global LAB, PORT, PARTIAL_PORT, DEAD_PORT, SILENT, KEYS
    LAB = labmod.Lab()
    LAB.ensure_dkim_key()  # only the key files are needed, not the OpenDKIM daemon
    KEYS = make_keys(LAB.root)
    LAB.start_nsd(build_zones(LAB, KEYS))  # runs nsd-checkzone on every zone first
    PORT = start_exporter(LAB, "exporter", exporter_config(main_dns_section(LAB)))
    PARTIAL_PORT = start_exporter(LAB, "exporter_partial", exporter_config([
        "resolver: '127.0.0.1:%d'" % LAB.ports["dns"],
        "domains:",
        "  - {domain: example.test, mail_host: mail.example.test, ips: [127.0.0.1]}",
        "  - {domain: unserved.test, mail_host: mail.unserved.test, ips: [127.0.0.1]}",
    ]))
    SILENT = SilentResolver()
    DEAD_PORT = start_exporter(LAB, "exporter_dead", exporter_config([
        "resolver: '127.0.0.1:%d'" % SILENT.port,
        "timeout: 1500ms",
        "interval: 3s",
        "domains:",
        "  - domain: example.test",
        "    mail_host: mail.example.test",
        "    ips: [127.0.0.1]",
        "    dkim: [{selector: mail, key_file: %s}]" % LAB.dkim_key_file,
        "dnsbl: {zones: [bl.test]}",
    ], interval="3s", timeout="2s"))


def tearDownModule():
    if SILENT:
        SILENT.stop()
    if LAB:
        LAB.stop_all()


def metrics(port=None):
    return get_metrics(port or PORT)


def first_run():
    return wait(lambda: (lambda m: m if sample(m, "mailstack_collector_success", collector="dns") == 1
                         else None)(metrics()), 20, "a successful dns run")


def having(m, metric, **labels):
    """Values of every `metric` series whose labels include `labels`."""
    want = set(labels.items())
    return [v for (name, lbls), v in m.items() if name == metric and want <= set(lbls)]


class DnsTest(unittest.TestCase):
    def test_a_records_present_and_valid(self):
        m = first_run()
        for domain, records in EXPECTED_RECORDS.items():
            for record in RECORDS:
                present, valid = records[record]
                with self.subTest(domain=domain, record=record):
                    self.assertEqual(sample(m, "mailstack_dns_record_present", domain=domain, record=record),
                                     present)
                    self.assertEqual(sample(m, "mailstack_dns_record_valid", domain=domain, record=record), valid)
        for domain in DOMAINS:
            with self.subTest(domain=domain):
                # NXDOMAIN and "no data" are answers, not failures: every query of this exporter got one.
                self.assertEqual(sample(m, "mailstack_dns_lookup_failures", domain=domain), 0)
        self.assertEqual(sample(m, "mailstack_collector_success", collector="dns"), 1)

    def test_b_spf_counts_and_authorization(self):
        m = first_run()
        for domain, n in EXPECTED_SPF_LOOKUPS.items():
            with self.subTest(domain=domain, metric="lookups"):
                self.assertEqual(sample(m, "mailstack_spf_dns_lookups", domain=domain), n)
        for domain, n in EXPECTED_SPF_VOID.items():
            with self.subTest(domain=domain, metric="void"):
                self.assertEqual(sample(m, "mailstack_spf_void_lookups", domain=domain), n)
        # A record that does not parse is never evaluated.
        self.assertIn(sample(m, "mailstack_spf_dns_lookups", domain="broken.test"), (None, 0))
        self.assertIn(sample(m, "mailstack_spf_void_lookups", domain="broken.test"), (None, 0))
        for (domain, ip), v in EXPECTED_AUTHORIZES.items():
            with self.subTest(domain=domain, ip=ip):
                self.assertEqual(sample(m, "mailstack_spf_authorizes_ip", domain=domain, ip=ip), v)

    def test_b_spf_include_loop_is_a_permerror(self):
        m = first_run()
        self.assertEqual(sample(m, "mailstack_spf_dns_lookups", domain="loop.test"), 11)
        self.assertEqual(sample(m, "mailstack_spf_void_lookups", domain="loop.test"), 0)
        self.assertEqual(sample(m, "mailstack_dns_record_present", domain="loop.test", record="spf"), 1)
        self.assertEqual(sample(m, "mailstack_dns_record_valid", domain="loop.test", record="spf"), 0)

    def test_c_dmarc_policy_state_set(self):
        m = first_run()
        for domain, policy in EXPECTED_DMARC.items():
            with self.subTest(domain=domain):
                for p in ("none", "quarantine", "reject"):
                    self.assertEqual(sample(m, "mailstack_dmarc_policy", domain=domain, policy=p),
                                     1 if p == policy else 0, p)
        # No valid DMARC record (missing; two records): no policy series at all.
        for domain in ("broken.test", "overlimit.test", "void.test"):
            with self.subTest(domain=domain):
                self.assertEqual(having(m, "mailstack_dmarc_policy", domain=domain), [])

    def test_d_dkim(self):
        m = first_run()
        d = dict(domain="example.test")
        bits = int(run(["openssl", "rsa", "-in", LAB.dkim_key_file, "-noout", "-text"]).stdout.split(
            "Private-Key: (", 1)[1].split(" bit", 1)[0])
        self.assertEqual(bits, 2048)  # ensure_dkim_key: opendkim-genkey -b 2048
        # "mail": the record opendkim-genkey wrote for the lab key, key_file = that key.
        self.assertEqual(sample(m, "mailstack_dkim_record_present", selector="mail", **d), 1)
        self.assertEqual(sample(m, "mailstack_dkim_record_valid", selector="mail", **d), 1)
        self.assertEqual(sample(m, "mailstack_dkim_key_size_bytes", selector="mail", **d), 256)  # 2048 bits
        self.assertEqual(sample(m, "mailstack_dkim_key_matches", selector="mail", **d), 1)
        # "old": a valid RSA-1024 record, but key_file is the lab's 2048-bit key.
        self.assertEqual(sample(m, "mailstack_dkim_record_valid", selector="old", **d), 1)
        self.assertEqual(sample(m, "mailstack_dkim_key_size_bytes", selector="old", **d), 128)  # 1024 bits
        self.assertEqual(sample(m, "mailstack_dkim_key_matches", selector="old", **d), 0)
        # "ed": ed25519 (RFC 8463), no key_file: 256 bits, no key_matches series.
        self.assertEqual(sample(m, "mailstack_dkim_record_present", selector="ed", **d), 1)
        self.assertEqual(sample(m, "mailstack_dkim_record_valid", selector="ed", **d), 1)
        self.assertEqual(sample(m, "mailstack_dkim_key_size_bytes", selector="ed", **d), 32)  # ed25519
        self.assertIsNone(sample(m, "mailstack_dkim_key_matches", selector="ed", **d))
        # "nosuch": NXDOMAIN.
        self.assertEqual(sample(m, "mailstack_dkim_record_present", selector="nosuch", **d), 0)
        self.assertEqual(sample(m, "mailstack_dkim_record_valid", selector="nosuch", **d), 0)
        self.assertIsNone(sample(m, "mailstack_dkim_key_size_bytes", selector="nosuch", **d))
        # broken.test "mail": v=DKIM1; k=rsa; p= is 49 base64 characters (not even a multiple of 4) that would
        # decode to 36 bytes of a cut-off SubjectPublicKeyInfo. The record exists and p= is not empty, but no
        # verifier can use it (RFC 6376 6.1.2: key data not suitable -> PERMFAIL), so it is NOT valid, and it
        # has no modulus to count. No key_file is configured, so no key_matches series either.
        b = dict(domain="broken.test", selector="mail")
        self.assertEqual(sample(m, "mailstack_dkim_record_present", **b), 1)
        self.assertEqual(sample(m, "mailstack_dkim_record_valid", **b), 0)
        self.assertIsNone(sample(m, "mailstack_dkim_key_size_bytes", **b))
        self.assertIsNone(sample(m, "mailstack_dkim_key_matches", **b))

    def test_e_reverse_dns(self):
        m = first_run()
        for (domain, ip), v in EXPECTED_REVERSE.items():
            with self.subTest(domain=domain, ip=ip):
                self.assertEqual(sample(m, "mailstack_reverse_dns_matches", domain=domain, ip=ip), v)

    def test_f_dnsbl(self):
        m = first_run()
        for ip, (listed, error) in EXPECTED_DNSBL.items():
            with self.subTest(ip=ip):
                self.assertEqual(sample(m, "mailstack_dnsbl_listed", ip=ip, blocklist="bl.test"), listed)
                self.assertEqual(sample(m, "mailstack_dnsbl_query_error", ip=ip, blocklist="bl.test"), error)
        # The union of the configured ips, each once: nothing else is queried.
        self.assertEqual(sorted(dict(l)["ip"] for (n, l) in m if n == "mailstack_dnsbl_listed"),
                         sorted(EXPECTED_DNSBL))

    def test_g_failed_lookups_are_absent_not_zero(self):
        # nsd answers REFUSED for unserved.test: every lookup of that domain fails. Its records have no
        # present/valid series (neither 0 nor 1) and its failure gauge counts them; example.test, checked by the
        # same run, is unaffected. The collector as a whole still succeeds: one broken domain must not blind the
        # others (MailstackDNSLookupsFailing alerts on the gauge; MailstackCollectorFailing is for a dead run).
        m = wait(lambda: (lambda m: m if sample(m, "mailstack_dns_lookup_failures", domain="unserved.test")
                          is not None else None)(metrics(PARTIAL_PORT)), 20, "a dns run of the partial exporter")
        self.assertGreater(sample(m, "mailstack_dns_lookup_failures", domain="unserved.test"), 0)
        self.assertEqual(sample(m, "mailstack_dns_lookup_failures", domain="example.test"), 0)
        for record in ("mx", "a", "aaaa", "spf", "dmarc", "mta_sts", "tls_rpt"):
            with self.subTest(record=record):
                self.assertEqual(having(m, "mailstack_dns_record_present", domain="unserved.test", record=record), [])
                self.assertEqual(having(m, "mailstack_dns_record_valid", domain="unserved.test", record=record), [])
                self.assertEqual(sample(m, "mailstack_dns_record_valid", domain="example.test", record=record),
                                 EXPECTED_RECORDS["example.test"][record][1])
        self.assertEqual(having(m, "mailstack_dmarc_policy", domain="unserved.test"), [])
        self.assertEqual(sample(m, "mailstack_collector_success", collector="dns"), 1)

    def test_h_dead_resolver_ends_by_the_timeout(self):
        # The resolver's UDP port is bound but never answers. The first run must end by the collector's
        # 1500 ms timeout (not c-ares' own retry schedule of many seconds), report failure, and the exporter
        # must keep serving /metrics fast meanwhile.
        def failed_run():
            # success is 0 while a run overruns too, but then its data is not served: a finished run has
            # its lookup failures.
            m = metrics(DEAD_PORT)
            done = sample(m, "mailstack_dns_lookup_failures", domain="example.test") is not None
            return m if done and sample(m, "mailstack_collector_success", collector="dns") == 0 else None
        m = wait(failed_run, 10, "a failed dns run")
        d = sample(m, "mailstack_collector_duration_seconds", collector="dns")
        self.assertLess(d, 2.0)  # not past the run's 1.5 s by more than a loaded machine's slack (c-ares alone: 5 s+)
        self.assertGreater(SILENT.queries, 0, "the configured resolver was never asked (resolv.conf used?)")
        self.assertEqual(having(m, "mailstack_dns_record_valid", domain="example.test"), [])
        # Across the next runs (every 3 s, each waiting 1.35 s on the silent resolver): a scrape that waited
        # on a run would take over a second.
        self.assertLess(slowest_scrape(DEAD_PORT, 3.5), 0.5)
        self.assertEqual(http("http://127.0.0.1:%d/-/healthy" % DEAD_PORT)[0], 200)
        self.assertIsNone(LAB.procs["exporter_dead"].poll())
        self.assertEqual(sample(metrics(DEAD_PORT), "mailstack_collector_success", collector="dns"), 0)

    def test_z_fixture_sanity(self):
        # Our own hand-written constants, not the exporter.
        import ipaddress
        self.assertEqual(V6_NIBBLES + ".ip6.arpa", ipaddress.ip_address(V6).reverse_pointer)
        self.assertEqual(V6_PTR_OWNER + "." + V6_PTR_ZONE, ipaddress.ip_address(V6).reverse_pointer)
        self.assertEqual(LAB.dig("TXT", "_spf2.chain.test"), ['"v=spf1 a:relay.chain.test ip4:127.0.0.4 -all"'])
        self.assertEqual(LAB.dig("A", V6_NIBBLES + ".bl.test"), ["127.0.0.2"])
        self.assertEqual(LAB.dig("-x", V6), ["mail.v6.test."])


if __name__ == "__main__":
    unittest.main(verbosity=2)
