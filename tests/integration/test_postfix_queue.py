"""postfix_queue against a real Postfix 3.7 with real queued mail.

Fills the queue with 37 deferred and 12 held messages and asserts the exporter's numbers equal
`postqueue -j`'s exactly (counts, bytes, recipients, oldest arrival), from showq and from a walk of the spool; reads it as an unprivileged user
(denied without the postdrop group, allowed with it); stops Postfix and sees postfix_up 0.
"""
import collections
import grp
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import lab as labmod  # noqa: E402
from exporter_env import get_metrics, run_clock, sample, start_exporter, wait  # noqa: E402

LAB = None
PORT = None
N_DEFERRED, N_HELD = 37, 12
CONFIG = """\
defaults:
  interval: 1s
  timeout: 900ms
collectors:
  filesystem:
    enabled: false
  postfix_queue:
    instances:
      - name: main
        showq: {showq}
      - name: ghost
        showq: /nonexistent/postfix/public/showq
      - name: spool
        queue_directory: {qdir}
"""


def scrape(port=None):
    return get_metrics(port or PORT)


def log_of(name):
    with open(LAB.proc_logs[name][0]) as f:
        return f.read()


def setUpModule():
    global LAB, PORT
    LAB = labmod.Lab()
    LAB.start_postfix()
    LAB.fill_queue(N_DEFERRED, N_HELD, size=3000)
    LAB.wait_queue({"deferred": N_DEFERRED, "hold": N_HELD, "active": 0, "incoming": 0}, timeout=120)
    PORT = start_exporter(LAB, "exporter", CONFIG.format(showq=LAB.showq_socket, qdir=LAB.queue_directory))


def tearDownModule():
    if LAB:
        LAB.stop_all()


class PostfixQueueTest(unittest.TestCase):
    def expected(self):
        msgs = LAB.queue_json()
        by = collections.defaultdict(lambda: {"messages": 0, "bytes": 0, "recipients": 0, "oldest": None})
        for m in msgs:
            q = by[m["queue_name"]]
            q["messages"] += 1
            q["bytes"] += m["message_size"]
            q["recipients"] += len(m["recipients"])
            q["oldest"] = m["arrival_time"] if q["oldest"] is None else min(q["oldest"], m["arrival_time"])
        return by

    def test_counts_bytes_recipients_and_age_equal_postqueue(self):
        exp = self.expected()
        self.assertEqual(exp["deferred"]["messages"], N_DEFERRED)
        self.assertEqual(exp["hold"]["messages"], N_HELD)
        # Wait until the mail is a few seconds old, so the age is not just rounding.
        m = wait(lambda: (lambda s: s if (sample(s, "mailstack_postfix_queue_oldest_message_age_seconds",
                                                 postfix_instance="main", queue="hold") or 0) >= 3 else None)(
            scrape()), 15, "held mail 3s old")
        earliest, latest = run_clock(m, "postfix_queue")  # ages count from the served run's clock
        for inst, queue in [(i, q) for i in ("main", "spool")
                            for q in ("active", "deferred", "hold", "incoming", "maildrop")]:
            e = exp.get(queue, {"messages": 0, "bytes": 0, "recipients": 0, "oldest": None})
            lbl = dict(postfix_instance=inst, queue=queue)
            with self.subTest(instance=inst, queue=queue):
                self.assertEqual(sample(m, "mailstack_postfix_queue_messages", **lbl), e["messages"])
                self.assertEqual(sample(m, "mailstack_postfix_queue_size_bytes", **lbl), e["bytes"])
                # Recipients come from showq only (spool mode does not read defer logs).
                self.assertEqual(sample(m, "mailstack_postfix_queue_recipients", **lbl),
                                 e["recipients"] if inst == "main" else None)
                self.assertEqual(sample(m, "mailstack_postfix_queue_message_age_seconds_count", **lbl), e["messages"])
                age = sample(m, "mailstack_postfix_queue_oldest_message_age_seconds", **lbl)
                if e["oldest"] is None:
                    self.assertEqual(age, 0)
                else:
                    self.assertGreaterEqual(age, earliest - e["oldest"])
                    self.assertLessEqual(age, latest - e["oldest"])
                    self.assertGreaterEqual(age, 3)
        self.assertEqual(sample(m, "mailstack_postfix_queue_deferred_recipients", postfix_instance="main",
                                reason="transport"), N_DEFERRED)
        for reason in ("connection", "dns", "tls", "mailbox_full", "remote_4xx", "other"):
            self.assertEqual(sample(m, "mailstack_postfix_queue_deferred_recipients", postfix_instance="main",
                                    reason=reason), 0, reason)
        self.assertEqual(sample(m, "mailstack_postfix_up", postfix_instance="ghost"), 0)
        self.assertIsNone(sample(m, "mailstack_postfix_queue_messages", postfix_instance="ghost", queue="deferred"))
        self.assertEqual(sample(m, "mailstack_collector_success", collector="postfix_queue"), 1)
        self.assertIn('msg="cannot read the Postfix queue" postfix_instance=ghost '
                      'err="connect /nonexistent/postfix/public/showq: No such file or directory"', log_of("exporter"))

    def test_unprivileged_user_needs_the_postdrop_group(self):
        cfg = CONFIG.format(showq=LAB.showq_socket, qdir=LAB.queue_directory)
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        port = start_exporter(LAB, "exporter-nobody", cfg, nobody)
        try:
            m = wait(lambda: (lambda s: s if sample(s, "mailstack_postfix_up", postfix_instance="main") is not None
                              else None)(scrape(port)), 10, "a first run")
            self.assertEqual(sample(m, "mailstack_postfix_up", postfix_instance="main"), 0)
            self.assertIn("connect %s: Permission denied" % LAB.showq_socket, log_of("exporter-nobody"))
            # Spool mode needs root or the postfix user: the queue directories are 0700 postfix.
            self.assertEqual(sample(m, "mailstack_postfix_up", postfix_instance="spool"), 0)
            self.assertIn("spool %s/active: Permission denied" % LAB.queue_directory, log_of("exporter-nobody"))
        finally:
            LAB.stop_process("exporter-nobody")
        postdrop = grp.getgrnam("postdrop").gr_gid
        port = start_exporter(LAB, "exporter-postdrop", cfg,
                              ["setpriv", "--reuid=65534", "--regid=65534", "--groups=%d" % postdrop])
        try:
            m = wait(lambda: (lambda s: s if sample(s, "mailstack_postfix_up", postfix_instance="main") == 1
                              else None)(scrape(port)), 10, "postfix_up 1 with group postdrop")
            self.assertEqual(sample(m, "mailstack_postfix_queue_messages", postfix_instance="main", queue="deferred"),
                             N_DEFERRED)
        finally:
            LAB.stop_process("exporter-postdrop")

    def test_z_stopped_postfix_is_up_zero_and_recovers(self):
        LAB.stop_postfix()
        try:
            m = wait(lambda: (lambda s: s if sample(s, "mailstack_postfix_up", postfix_instance="main") == 0
                              else None)(scrape()), 10, "postfix_up 0 after postfix stop")
            self.assertIsNone(sample(m, "mailstack_postfix_queue_messages", postfix_instance="main", queue="deferred"))
            log = log_of("exporter")
            self.assertTrue("connect %s: Connection refused" % LAB.showq_socket in log or
                            "connect %s: No such file or directory" % LAB.showq_socket in log, log[-2000:])
        finally:
            LAB.start_postfix()
        m = wait(lambda: (lambda s: s if sample(s, "mailstack_postfix_up", postfix_instance="main") == 1
                          else None)(scrape()), 15, "postfix_up 1 after restart")
        self.assertEqual(sample(m, "mailstack_postfix_queue_messages", postfix_instance="main", queue="hold"), N_HELD)
        self.assertIn('msg="Postfix queue readable again" postfix_instance=main', log_of("exporter"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
