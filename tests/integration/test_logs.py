"""The logs collector on the real stack (issue 13, "Proven on the real thing").

The lab sends a known mix through real Postfix, Dovecot (LMTP, quota) and OpenDKIM (Lab.send_log_mix), then
the exporter reads the logs from the beginning and every counter must have its exact value:

  - once through Postfix's own log file (postlogd: maillog_file) plus Dovecot's log_path file, OpenDKIM's
    syslog(3) lines appended to the Postfix file by the lab's /dev/log listener;
  - once through a real rsyslogd owning /dev/log and writing Debian's traditional mail.log (Postfix without
    maillog_file, Dovecot with log_path = syslog, OpenDKIM): one file.

Before the exporter runs, every expected value is checked against a grep of the real log (each expectation
names the lines it counts), so a lab that logged something else fails here, not as a collector bug.

Run from tests/integration as root:
    /usr/bin/python3 -m unittest -v test_logs              # the test (needs an exporter with a logs collector)
    /usr/bin/python3 test_logs.py --dry-run                # lab + mix only: expected values next to the grep
    /usr/bin/python3 test_logs.py --dry-run --save-testdata   # and copy the logs to tests/parse/testdata
"""

import argparse
import calendar
import os
import re
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import exporter_env as env  # noqa: E402
import lab as labmod  # noqa: E402

TESTDATA = os.path.join(env.REPO, "tests", "parse", "testdata")
MIX = dict(n_sasl=3, m_unknown=2, k_sasl_fail=2, imap_wrong_password=1, imap_unknown_user=1)
PI = "postfix"   # postfix_instance: the default postfix_instances {postfix: postfix}

# the fixed label sets of the contract (shared/docs/product.md, "logs")
REJECT_REASONS = ("rbl", "relay", "unknown_recipient", "unknown_sender", "reverse_dns", "helo", "policy",
                  "tls_required", "auth", "size", "other")
LOST_AFTER = ("CONNECT", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "END-OF-MESSAGE", "other")
POSTSCREEN_EVENTS = ("connect", "pass_new", "pass_old", "dnsbl", "pregreet", "hangup", "reject", "other")
DELIVERY_STATUSES = ("sent", "deferred", "bounced")
CONNECT_FAILURES = ("timeout", "refused", "no_route", "dns", "other")
TLS_TRUST = ("verified", "trusted", "untrusted", "anonymous")
SEVERITIES = ("warning", "error", "fatal", "panic")
DOVECOT_PROTOCOLS = ("imap", "pop3", "managesieve", "submission")
LOGIN_FAILURES = ("auth_failed", "no_auth_attempts", "plaintext_disallowed", "other")
AUTH_FAILURES = ("unknown_user", "password_mismatch", "other")
LMTP_STATUSES = ("saved", "quota_exceeded", "failed")
DKIM_RESULTS = ("pass", "fail", "none")
DKIM_ERRORS = ("unknown_key", "key_retrieval", "other")
PATTERNS = {  # the default patterns: name -> what a line must contain
    "authentication_failure": re.compile(r"authentication fail"),  # Postfix's "failed", PAM's "failure"
    "relay_access_denied": re.compile(r"Relay access denied"),
    "connect_refused": re.compile(r"connect to .*refused"),
    "tls_library_problem": re.compile(r"warning: TLS library problem"),
    "unknown_signing_key": re.compile(r"signing table references unknown key"),
}
LOG_PROGRAMS = ("postfix", "dovecot", "opendkim")

# line shapes (both layouts: postlogd/Dovecot file "Dec 04 12:00:00 [mail ]prog: Info: msg", and rsyslog's
# "Dec  4 12:00:00 host prog[pid]: msg" with Dovecot as "dovecot: prog: msg")
SUB = r" postfix/submission/smtpd\[\d+\]: "
SMTPD = r" postfix/smtpd\[\d+\]: "
DV = r"(?:^\w{3} [ 0-9]\d [\d:]{8} | dovecot: )"   # a Dovecot process name follows
DV_INFO = r"(?:Info: )?"


class Expect:
    """One series: exact `value`; `why` is the reasoning; `grep` (a regex, or None) counts the log lines
    that make it; `must_exist`: a zero must be served (a fixed, zero-filled label set), not just absent."""

    def __init__(self, metric, labels, value, why, grep=None, must_exist=True):
        self.metric, self.labels, self.value, self.why = metric, dict(labels), value, why
        self.grep = re.compile(grep) if isinstance(grep, str) else grep
        self.must_exist = must_exist

    def key(self):
        return "%s{%s}" % (self.metric, ",".join('%s="%s"' % kv for kv in sorted(self.labels.items())))


def expectations(mix, sources):
    """Every series the logs collector must serve after Lab.send_log_mix(**mix) (and nothing else) was
    logged into `sources` (path -> its lines)."""
    n, m, k = mix["n_sasl"], mix["m_unknown"], mix["k_sasl_fail"]
    imap_fail = mix["imap_wrong_password"] + mix["imap_unknown_user"]
    sub_sessions = n + 2 + k      # n submissions, the closed.test and blocked.test ones, k failed AUTHs
    smtpd_sessions = 1 + m + 1 + 1   # the quota message, m unknown recipients, the relay attempt, the lost one
    messages = n + 2 + 1          # everything queued by smtpd
    notifications = 2             # blocked.test bounce, quota bounce: both to probe@, over LMTP
    E = []

    def add(metric, labels, value, why, grep=None, must_exist=True):
        E.append(Expect(metric, labels, value, why, grep, must_exist))

    p = "mailstack_postfix_"
    # smtpd, per service
    add(p + "smtpd_connections_total", dict(postfix_instance=PI, service="submission"), sub_sessions,
        "%d submissions + closed.test + blocked.test + %d wrong-password sessions on 587" % (n, k),
        SUB + r"connect from ")
    add(p + "smtpd_connections_total", dict(postfix_instance=PI, service="smtpd"), smtpd_sessions,
        "on 25: the quota message, %d unknown recipients, the relay attempt, the session lost after EHLO" % m,
        SMTPD + r"connect from ")
    add(p + "smtpd_messages_total", dict(postfix_instance=PI, service="submission"), n + 2,
        "client= of the %d submissions + closed.test + blocked.test" % n, SUB + r"\w+: client=")
    add(p + "smtpd_messages_total", dict(postfix_instance=PI, service="smtpd"), 1,
        "client= of the quota message (unauthenticated, port 25)", SMTPD + r"\w+: client=")
    add(p + "smtpd_sasl_logins_total", dict(postfix_instance=PI, service="submission"), n + 2,
        "every client= on 587 has sasl_username=", SUB + r"\w+: client=.*sasl_username=")
    add(p + "smtpd_sasl_logins_total", dict(postfix_instance=PI, service="smtpd"), 0,
        "no AUTH on 25", must_exist=False)
    add(p + "smtpd_sasl_failures_total", dict(postfix_instance=PI, service="submission"), k,
        "one 'SASL PLAIN authentication failed' per wrong-password session (one AUTH command each)",
        SUB + r"warning: .*: SASL \w+ authentication failed")
    add(p + "smtpd_sasl_failures_total", dict(postfix_instance=PI, service="smtpd"), 0,
        "no AUTH on 25", must_exist=False)
    for svc in ("smtpd", "submission"):
        for r in REJECT_REASONS:
            v, why, g = 0, "nothing rejected for this reason", None
            if svc == "smtpd" and r == "unknown_recipient":
                v, why, g = m, "NOQUEUE: reject: RCPT ... 550 5.1.1 ... User unknown in virtual mailbox table", \
                    SMTPD + r"NOQUEUE: reject: RCPT .*User unknown in virtual mailbox table"
            elif svc == "smtpd" and r == "relay":
                v, why, g = 1, "NOQUEUE: reject: RCPT ... 554 5.7.1 ... Relay access denied", \
                    SMTPD + r"NOQUEUE: reject: RCPT .*Relay access denied"
            elif svc == "submission":
                why = "nothing is rejected on 587 (a failed AUTH is no reject line)"
            add(p + "smtpd_rejects_total", dict(postfix_instance=PI, service=svc, reason=r), v, why, g)
    add(p + "smtpd_tls_connections_total", dict(postfix_instance=PI, service="submission"), sub_sessions,
        "every 587 session does STARTTLS: 'Anonymous TLS connection established from'",
        SUB + r"Anonymous TLS connection established from ")
    add(p + "smtpd_tls_connections_total", dict(postfix_instance=PI, service="smtpd"), 0,
        "no STARTTLS on 25 in the mix", must_exist=False)
    for svc in ("smtpd", "submission"):
        for a in LOST_AFTER:
            hit = svc == "smtpd" and a == "EHLO"
            add(p + "smtpd_lost_connections_total", dict(postfix_instance=PI, service=svc, after=a),
                1 if hit else 0,
                "the session closed after EHLO without QUIT" if hit else "every other session ends with QUIT",
                SMTPD + r"lost connection after EHLO from " if hit else None)
    for ev in POSTSCREEN_EVENTS:
        add(p + "postscreen_events_total", dict(postfix_instance=PI, event=ev), 0, "the lab runs no postscreen")
    # queue
    add(p + "cleanup_messages_total", dict(postfix_instance=PI), messages + notifications,
        "message-id= of the %d smtpd messages and of the 2 bounce notifications (bounce -> cleanup)" % messages,
        r" postfix/cleanup\[\d+\]: \w+: message-id=")
    add(p + "cleanup_rejects_total", dict(postfix_instance=PI), 0, "no header/body/milter reject")
    add(p + "qmgr_messages_inserted_total", dict(postfix_instance=PI), messages + notifications,
        "from=<...> (queue active) of every queued message, the notifications (from=<>) included",
        r" postfix/qmgr\[\d+\]: \w+: from=<[^>]*>, size=\d+, nrcpt=\d+ \(queue active\)")
    add(p + "qmgr_messages_removed_total", dict(postfix_instance=PI), messages + notifications - 1,
        "all but the closed.test message, which stays deferred (next retry in 3600 s)",
        r" postfix/qmgr\[\d+\]: \w+: removed$")
    add(p + "qmgr_messages_expired_total", dict(postfix_instance=PI), 0, "nothing expired")
    add(p + "bounce_notifications_total", dict(postfix_instance=PI), notifications,
        "sender non-delivery notification: for the blocked.test and the quota bounce",
        r" postfix/bounce\[\d+\]: \w+: sender non-delivery notification: ")
    # deliveries
    delivery = {("lmtp", "sent"): (n + notifications,
                                   "%d submissions + 2 notifications to probe@: 250 2.0.0 ... Saved" % n,
                                   r" postfix/lmtp\[\d+\]: \w+: to=<.*status=sent "),
                ("lmtp", "bounced"): (1, "full@: 552 5.2.2 Quota exceeded (in reply to end of DATA)",
                                      r" postfix/lmtp\[\d+\]: \w+: to=<.*status=bounced "),
                ("lmtp", "deferred"): (0, "nothing deferred over LMTP", None),
                ("smtp", "deferred"): (1, "closed.test: connect to 127.0.0.1[127.0.0.1]:10027: Connection refused",
                                       r" postfix/smtp\[\d+\]: \w+: to=<.*status=deferred "),
                ("smtp", "bounced"): (1, "blocked.test: the peer's 550 5.7.1 (in reply to RCPT TO)",
                                      r" postfix/smtp\[\d+\]: \w+: to=<.*status=bounced "),
                ("smtp", "sent"): (0, "nothing leaves the box successfully", None)}
    for (tr, st), (v, why, g) in sorted(delivery.items()):
        add(p + "deliveries_total", dict(postfix_instance=PI, transport=tr, status=st), v, why, g)
        add(p + "delivery_delay_seconds_count", dict(postfix_instance=PI, transport=tr, status=st), v,
            "one delay= observation per delivery line", g, must_exist=v > 0)
    for tr in ("local", "virtual", "pipe", "error", "discard", "retry"):
        for st in DELIVERY_STATUSES:
            add(p + "deliveries_total", dict(postfix_instance=PI, transport=tr, status=st), 0,
                "example.test is delivered over LMTP, not virtual(8)", must_exist=False)
    add(p + "delivery_failures_total", dict(postfix_instance=PI, transport="smtp", status="deferred", dsn="4.4"), 1,
        "closed.test: dsn=4.4.1", r" postfix/smtp\[\d+\]: .*dsn=4\.4\.\d+, status=deferred ")
    add(p + "delivery_failures_total", dict(postfix_instance=PI, transport="smtp", status="bounced", dsn="5.7"), 1,
        "blocked.test: dsn=5.7.1", r" postfix/smtp\[\d+\]: .*dsn=5\.7\.\d+, status=bounced ")
    add(p + "delivery_failures_total", dict(postfix_instance=PI, transport="lmtp", status="bounced", dsn="5.2"), 1,
        "full@: dsn=5.2.2", r" postfix/lmtp\[\d+\]: .*dsn=5\.2\.\d+, status=bounced ")
    add(p + "delivery_failures_total", dict(postfix_instance=PI, transport="smtp", status="bounced", dsn="5.1"), 0,
        "no other failure class/subject", must_exist=False)
    add(p + "delivery_blocked_total", dict(postfix_instance=PI, transport="smtp", status="bounced"), 1,
        "the 550's text says 'blocked using zen.spamhaus.org'",
        r" postfix/smtp\[\d+\]: .*status=bounced .*(blocked|listed)")
    add(p + "delivery_blocked_total", dict(postfix_instance=PI, transport="smtp", status="deferred"), 0,
        "the deferral is a refused connection, not a block", must_exist=False)
    add(p + "delivery_blocked_total", dict(postfix_instance=PI, transport="lmtp", status="bounced"), 0,
        "a full mailbox is no block", must_exist=False)
    for r in CONNECT_FAILURES:
        hit = r == "refused"
        add(p + "smtp_connect_failures_total", dict(postfix_instance=PI, reason=r), 1 if hit else 0,
            "smtp(8): 'connect to 127.0.0.1[127.0.0.1]:10027: Connection refused' (one address, one attempt)"
            if hit else "no such failure", r" postfix/smtp\[\d+\]: connect to .*: Connection refused$" if hit else None)
    for t in TLS_TRUST:
        add(p + "smtp_tls_connections_total", dict(postfix_instance=PI, trust=t), 0,
            "smtp_tls_security_level = none: the client never does TLS")
    for sev in SEVERITIES:
        hit = sev == "warning"
        add(p + "log_messages_total", dict(postfix_instance=PI, severity=sev), k if hit else 0,
            "the %d 'warning: ...: SASL PLAIN authentication failed' lines, Postfix's only warnings" % k
            if hit else "none logged", r" postfix/[\w/-]+\[\d+\]: warning: " if hit else None)
    # Dovecot
    d = "mailstack_dovecot_"
    for proto in DOVECOT_PROTOCOLS:
        hit = proto == "imap"
        add(d + "logins_total", dict(protocol=proto), 1 if hit else 0,
            "imap-login: Login: the probe reading INBOX" if hit else "no %s login" % proto,
            DV + r"imap-login: " + DV_INFO + r"Login: " if hit else None)
        for r in LOGIN_FAILURES:
            hit2 = hit and r == "auth_failed"
            add(d + "login_failures_total", dict(protocol=proto, reason=r), imap_fail if hit2 else 0,
                "imap-login: Disconnected: Aborted login by logging out (auth failed, 1 attempts ...): wrong "
                "password + unknown user" if hit2 else "none",
                DV + r"imap-login: " + DV_INFO + r"Disconnected: .*\(auth failed, " if hit2 else None)
    auth = {"password_mismatch": (k + mix["imap_wrong_password"],
                                  "auth: passwd-file(...): Password mismatch: %d SASL (Postfix) + %d IMAP"
                                  % (k, mix["imap_wrong_password"]),
                                  DV + r"auth: " + DV_INFO + r"passwd-file\([^)]*\): Password mismatch"),
            "unknown_user": (mix["imap_unknown_user"], "auth: passwd-file(nobody@...): unknown user (IMAP)",
                             DV + r"auth: " + DV_INFO + r"passwd-file\([^)]*\): unknown user"),
            "other": (0, "none", None)}
    for r in AUTH_FAILURES:
        v, why, g = auth[r]
        add(d + "auth_failures_total", dict(reason=r), v, why, g)
    lmtp = {"saved": (n + notifications, "lmtp(...): msgid=<...>: saved mail to INBOX: %d submissions + 2 "
                      "notifications" % n, DV + r"lmtp\([^)]*\)<\d+><[^>]*>: " + DV_INFO + r"msgid=.*: saved mail to "),
            "quota_exceeded": (1, "lmtp(full@...): msgid=<...>: save failed to INBOX: Quota exceeded (mailbox "
                               "for user is full)", DV + r"lmtp\([^)]*\)<\d+><[^>]*>: " + DV_INFO
                               + r"msgid=.*: save failed to .*Quota exceeded"),
            "failed": (0, "no other save failure", None)}
    for st in LMTP_STATUSES:
        v, why, g = lmtp[st]
        add(d + "lmtp_deliveries_total", dict(status=st), v, why, g)
    for sev in SEVERITIES:
        add(d + "log_messages_total", dict(severity=sev), 0, "every Dovecot line of the mix is Info")
    # OpenDKIM (InternalHosts empty: only SMTP AUTH mail is signed, port-25 mail is verified)
    add("mailstack_opendkim_signatures_total", {}, n + 2,
        "DKIM-Signature field added: every SASL submission (%d + closed.test + blocked.test)" % n,
        r" opendkim\[\d+\]: \w+: DKIM-Signature field added ")
    for r in DKIM_RESULTS:
        hit = r == "none"
        add("mailstack_opendkim_verifications_total", dict(result=r), 1 if hit else 0,
            "'no signature data': the unsigned quota message from port 25 (not internal, not authenticated)"
            if hit else "no signed mail is verified", r" opendkim\[\d+\]: \w+: no signature data$" if hit else None)
    for kind in DKIM_ERRORS:
        add("mailstack_opendkim_errors_total", dict(kind=kind), 0, "no key or DNS problem")
    # patterns and sources
    why = {"authentication_failure": "the 2 Postfix 'SASL PLAIN authentication failed' lines (the pattern is "
                                     "'authentication fail': PAM's 'authentication failure' too)",
           "relay_access_denied": "the relay attempt's NOQUEUE line",
           "connect_refused": "the smtp(8) 'connect to ...: Connection refused' line AND the deferral's "
                              "status text '(connect to ...: Connection refused)'",
           "tls_library_problem": "no TLS error", "unknown_signing_key": "the key is configured"}
    expect_pattern = {"authentication_failure": 2, "relay_access_denied": 1, "connect_refused": 2}
    for name, rx in PATTERNS.items():
        add("mailstack_log_pattern_matches_total", dict(pattern=name), expect_pattern.get(name, 0), why[name], rx)
    for path, lines in sources.items():
        add("mailstack_log_lines_total", dict(source=path), len(lines), "the file's line count (wc -l)")
        add("mailstack_log_source_up", dict(source=path), 1, "the file is there and readable")
        add("mailstack_log_rotations_total", dict(source=path), 0, "nothing rotated")
        last = last_line_time(lines)
        if last is not None:
            add("mailstack_log_last_line_timestamp_seconds", dict(source=path), last,
                "the newest line's time (%s, local time, this year)" % lines[-1][:15])
    for prog in LOG_PROGRAMS:
        add("mailstack_log_lines_unparsed_total", dict(program=prog), 0,
            "every line of the mix has a known shape (collectors/parse/maillog.cc classifies each one: "
            "none kUnparsed on 2026-12-04)")
    return E


def last_line_time(lines):
    """Unix time of the latest line (traditional "Mmm dd HH:MM:SS", no year: this year, local time)."""
    best = None
    for l in lines:
        mt = re.match(r"(\w{3}) ([ 0-9]\d) (\d\d):(\d\d):(\d\d) ", l)
        if not mt:
            continue
        mon = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"].index(mt.group(1)) + 1
        tm = (time.localtime().tm_year, mon, int(mt.group(2)), int(mt.group(3)), int(mt.group(4)),
              int(mt.group(5)), 0, 0, -1)
        t = time.mktime(tm)
        best = t if best is None else max(best, t)
    return best


def read_lines(path):
    with open(path, errors="replace") as f:
        return f.read().splitlines()


def grep_count(e, sources):
    if e.grep is None:
        return None
    return sum(1 for lines in sources.values() for l in lines if e.grep.search(l))


def grep_mismatches(exps, sources):
    """Expectations whose grep of the real logs disagrees with the expected value."""
    return [(e, grep_count(e, sources)) for e in exps
            if e.grep is not None and grep_count(e, sources) != e.value]


def table(exps, sources, metrics=None):
    rows = []
    for e in exps:
        g = grep_count(e, sources)
        line = "%-100s %8g  grep=%-4s" % (e.key(), e.value, "-" if g is None else g)
        if metrics is not None:
            got = env.sample(metrics, e.metric, **e.labels)
            line += " exporter=%-6s" % ("absent" if got is None else "%g" % got)
        rows.append(line + "  # " + e.why)
    return "\n".join(rows)


# --------------------------------------------------------------------------- lab part

def run_lab(mode, timings):
    """A fresh lab in `mode` ("postlogd" or "rsyslog") with the mix sent and settled. Returns (lab, mix,
    sources: path -> lines); the lab is still running (the caller stops it)."""
    t0 = time.monotonic()
    lab = labmod.Lab()
    try:
        rs = mode == "rsyslog"
        if rs:
            lab.start_rsyslog()
        lab.start_opendkim(internal_hosts=[])   # only SMTP AUTH mail is signed; port-25 mail is verified
        lab.start_postfix(lmtp=True, syslog=rs)
        lab.start_dovecot(syslog=rs, auth_failure_delay="0")
        timings[mode + "_start"] = time.monotonic() - t0
        t1 = time.monotonic()
        mix = lab.send_log_mix(**MIX)
        paths = [lab.syslog_maillog] if rs else [lab.maillog, lab.dovecot_log]
        # Settle: every counted line is there, exactly as often as expected (a condition with a deadline: a
        # last "removed" or Dovecot line may still be on its way).
        last = {}

        def settled():
            sources = {p: read_lines(p) for p in paths}
            last["bad"] = grep_mismatches(expectations(MIX, sources), sources)
            last["sources"] = sources
            return not last["bad"]
        try:
            labmod.wait_until(settled, 30, "the %s logs to hold exactly the expected lines" % mode, interval=0.2)
        except labmod.LabError:
            raise AssertionError("the lab's %s logs do not show the expected mix (lab problem, not the "
                                 "collector's):\n%s" % (mode, "\n".join(
                                     "  %s expected %g, grep finds %s  # %s" % (e.key(), e.value, g, e.why)
                                     for e, g in last["bad"]))) from None
        timings[mode + "_mix"] = time.monotonic() - t1
        timings[mode + "_lab_total"] = time.monotonic() - t0
        return lab, mix, last["sources"]
    except BaseException:
        lab.stop_all()
        raise


def save_testdata(mode, lab):
    if mode == "postlogd":
        shutil.copy(lab.maillog, os.path.join(TESTDATA, "lab-mix-maillog.log"))
        shutil.copy(lab.dovecot_log, os.path.join(TESTDATA, "lab-mix-dovecot.log"))
    else:
        shutil.copy(lab.syslog_maillog, os.path.join(TESTDATA, "lab-mix-rsyslog.log"))


# --------------------------------------------------------------------------- the test

def logs_config(paths):
    return ("collectors:\n  logs:\n    interval: 1s\n    timeout: 900ms\n    start_at: beginning\n    sources:\n"
            + "".join("      - file: %s\n" % p for p in paths))


class LogsCollector(unittest.TestCase):
    timings = {}

    @classmethod
    def tearDownClass(cls):
        sys.stderr.write("\nlogs lab timings: %s\n" % ", ".join("%s=%.1fs" % kv for kv in sorted(cls.timings.items())))

    def check_collector(self, mode):
        lab, mix, sources = run_lab(mode, self.timings)
        self.addCleanup(lab.stop_all)
        paths = list(sources)
        cfg_text = logs_config(paths)
        cfg = os.path.join(lab.root, "logs-%s.yml" % mode)
        with open(cfg, "w") as f:
            f.write(cfg_text)
        r = env.run([env.BIN, "--config.file=" + cfg, "--config.check"])
        if r.returncode != 0:
            self.fail("the lab part passed (the %s mix settled: every expected line is in the real logs), but "
                      "the exporter %s rejects a logs collector section (is the logs collector in this build?):\n"
                      "%s%s--- config ---\n%s" % (mode, env.BIN, r.stdout, r.stderr, cfg_text))
        port = env.start_exporter(lab, "exporter-logs-" + mode, cfg_text)

        # the whole files read: lines_total equals each file's line count (re-counted: a late line may come)
        def caught_up():
            m = env.get_metrics(port)
            return m if all(env.sample(m, "mailstack_log_lines_total", source=p) == len(read_lines(p))
                            for p in paths) else None
        try:
            metrics = env.wait(caught_up, 30, "mailstack_log_lines_total to reach the line counts of %s" % paths)
        except AssertionError as e:
            m = env.get_metrics(port)
            raise AssertionError("%s; served: %s" % (e, {p: env.sample(m, "mailstack_log_lines_total", source=p)
                                                          for p in paths})) from None
        sources = {p: read_lines(p) for p in paths}
        exps = expectations(MIX, sources)
        self.assertEqual(grep_mismatches(exps, sources), [], "the logs changed after the mix settled")
        wrong = []
        for e in exps:
            got = env.sample(metrics, e.metric, **e.labels)
            if got is None and not e.must_exist and e.value == 0:
                continue
            if got != e.value:
                wrong.append(e)
        if wrong:
            self.fail("%d of %d series differ (%s run):\n%s\n\nfull table:\n%s" % (
                len(wrong), len(exps), mode,
                table(wrong, sources, metrics), table(exps, sources, metrics)))

    def test_postlogd_files(self):
        """Postfix's own maillog_file (postlogd) + Dovecot's log_path file."""
        self.check_collector("postlogd")

    def test_rsyslog_mail_log(self):
        """One mail.log written by a real rsyslogd (Debian's traditional format)."""
        self.check_collector("rsyslog")


def dry_run(modes, save):
    ok = True
    timings = {}
    for mode in modes:
        lab, mix, sources = run_lab(mode, timings)
        try:
            exps = expectations(MIX, sources)
            print("=== %s: %s" % (mode, ", ".join("%s (%d lines)" % (p, len(l)) for p, l in sources.items())))
            print(table(exps, sources))
            bad = grep_mismatches(exps, sources)
            print("%s: %d series, %d with a grep, %d grep mismatches" % (
                mode, len(exps), sum(e.grep is not None for e in exps), len(bad)))
            ok = ok and not bad
            if save:
                save_testdata(mode, lab)
        finally:
            lab.stop_all()
    print("timings: %s" % ", ".join("%s=%.1fs" % kv for kv in sorted(timings.items())))
    return 0 if ok else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry-run", action="store_true", help="lab + mix only; print expected vs grep")
    ap.add_argument("--mode", choices=("postlogd", "rsyslog", "both"), default="both")
    ap.add_argument("--save-testdata", action="store_true",
                    help="copy the logs to tests/parse/testdata/lab-mix-*.log (with --dry-run)")
    args, rest = ap.parse_known_args()
    if args.dry_run:
        sys.exit(dry_run(("postlogd", "rsyslog") if args.mode == "both" else (args.mode,), args.save_testdata))
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
