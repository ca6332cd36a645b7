"""services against a real dbus-daemon with a fake org.freedesktop.systemd1 (tests/support/fake_systemd.cc),
and process checks against the real Postfix, Dovecot and OpenDKIM of the lab.

Proves: unit states, restart counts and not-found units as exact values; a state that flips; a slow bus,
a service that vanishes and a bus that goes away each end the run by its deadline with success 0 and a
logged reason while /metrics keeps answering at once, and recover; killing OpenDKIM is seen within an
interval and its restart too.
"""
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import lab as labmod  # noqa: E402
from exporter_env import (http, parse_metrics, sample, slowest_scrape, start_exporter, start_fake_systemd,  # noqa: E402
                          wait, wait_log)
LAB = None
PORT = None
BUS = None
STATE = None
UNITS = ["postfix@-.service", "dovecot.service", "opendkim.service", "ghost.service"]
CONFIG = """\
defaults:
  interval: 1s
  timeout: 800ms
collectors:
  filesystem: {enabled: false}
  postfix_queue: {enabled: false}
  services:
    units: [%s]
    processes: {postfix: master, dovecot: dovecot, opendkim: opendkim}
""" % ", ".join(UNITS)


def write_state(lines):
    tmp = STATE + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.rename(tmp, STATE)


def scrape():
    t0 = time.monotonic()
    status, _, body = http("http://127.0.0.1:%d/metrics" % PORT)
    assert status == 200, status
    return parse_metrics(body), time.monotonic() - t0


def metrics():
    return scrape()[0]


def start_bus_and_fake():
    return start_fake_systemd(LAB, BUS, STATE)


def log():
    with open(LAB.proc_logs["exporter"][0]) as f:
        return f.read()


def setUpModule():
    global LAB, PORT, BUS, STATE
    LAB = labmod.Lab()
    LAB.start_opendkim()
    LAB.start_postfix()
    LAB.start_dovecot()
    BUS = os.path.join(LAB.root, "bus.sock")
    STATE = os.path.join(LAB.root, "units.state")
    write_state(["postfix@-.service loaded active running 0",
                 "dovecot.service loaded failed failed 3",
                 "opendkim.service loaded activating start 1"])
    env = start_bus_and_fake()
    PORT = start_exporter(LAB, "exporter", CONFIG, env=env)


def tearDownModule():
    if LAB:
        LAB.stop_all()


def success():
    return sample(metrics(), "mailstack_collector_success", collector="services")


def failed_run():
    """A scrape whose services run finished and failed, or None. success is 0 while a run overruns too, but
    then none of the collector's data is served; a finished run always has the process checks."""
    m = metrics()
    failed = sample(m, "mailstack_collector_success", collector="services") == 0
    return m if failed and sample(m, "mailstack_service_up", unit="postfix") is not None else None


class ServicesTest(unittest.TestCase):
    def setUp(self):
        wait(lambda: success() == 1, 15, "services collector healthy before the test")

    def state(self, m, unit):
        return {s: sample(m, "mailstack_service_state", unit=unit, state=s)
                for s in ("active", "reloading", "inactive", "failed", "activating", "deactivating")}

    def test_a_unit_states_restarts_and_not_found(self):
        write_state(["postfix@-.service loaded active running 0",
                     "dovecot.service loaded failed failed 3",
                     "opendkim.service loaded activating start 1"])
        m = wait(lambda: (lambda m: m if sample(m, "mailstack_service_restarts_total", unit="dovecot.service") == 3
                          else None)(metrics()), 10, "dovecot restarts 3")
        self.assertEqual(sample(m, "mailstack_service_up", unit="postfix@-.service"), 1)
        self.assertEqual(self.state(m, "postfix@-.service"),
                         dict(active=1, reloading=0, inactive=0, failed=0, activating=0, deactivating=0))
        self.assertEqual(sample(m, "mailstack_service_restarts_total", unit="postfix@-.service"), 0)
        self.assertEqual(sample(m, "mailstack_service_up", unit="dovecot.service"), 0)
        self.assertEqual(self.state(m, "dovecot.service")["failed"], 1)
        self.assertEqual(sum(self.state(m, "dovecot.service").values()), 1)
        self.assertEqual(sample(m, "mailstack_service_up", unit="opendkim.service"), 0)
        self.assertEqual(self.state(m, "opendkim.service")["activating"], 1)
        # A unit that does not exist is reported down with its reason, not skipped.
        self.assertEqual(sample(m, "mailstack_service_up", unit="ghost.service"), 0)
        self.assertEqual(sample(m, "mailstack_service_load_state", unit="ghost.service", state="not-found"), 1)
        self.assertEqual(sample(m, "mailstack_service_load_state", unit="ghost.service", state="loaded"), 0)
        self.assertEqual(self.state(m, "ghost.service")["inactive"], 1)
        self.assertIsNone(sample(m, "mailstack_service_restarts_total", unit="ghost.service"))

    def test_b_state_flips_and_restarts_count(self):
        write_state(["postfix@-.service loaded active running 0",
                     "dovecot.service loaded active running 4",
                     "opendkim.service loaded active running 1"])
        m = wait(lambda: (lambda m: m if sample(m, "mailstack_service_up", unit="dovecot.service") == 1 else None)(
            metrics()), 10, "dovecot active")
        self.assertEqual(sample(m, "mailstack_service_restarts_total", unit="dovecot.service"), 4)
        self.assertEqual(self.state(m, "dovecot.service")["failed"], 0)

    def test_c_slow_bus_ends_by_the_deadline(self):
        write_state(["postfix@-.service loaded active running 0 3000"])
        try:
            # A finished run that failed (while a run overruns, its data is not served at all).
            m = wait(lambda: failed_run(), 15, "a failed run on a slow bus")
            # The collector's duration shows the deadline held (the bus takes 3 s to answer).
            self.assertLess(sample(m, "mailstack_collector_duration_seconds", collector="services"), 1.0)
            wait_log(LAB.proc_logs["exporter"][0], "Connection timed out", 10)
            # Meanwhile /metrics answers at once, across whole runs: one that waited on a run would take up
            # to its 800 ms timeout.
            self.assertLess(slowest_scrape(PORT, 1.5), 0.4)
        finally:
            write_state(["postfix@-.service loaded active running 0"])
        wait(lambda: success() == 1, 15, "recovery after the slow bus")

    def test_d_service_vanishes_and_returns(self):
        LAB.stop_process("fake_systemd")
        try:
            wait(lambda: failed_run(), 10, "a failed run without systemd on the bus")
            # Counted now: the runner has published a run since the last recovery, so its log line is written.
            recovered = log().count('msg="collector recovered" collector=services')
            # The bus answers for the missing name (ServiceUnknown, or a failed activation attempt).
            wait_log(LAB.proc_logs["exporter"][0],
                     re.compile(r'collector=services duration=\S+ err="systemd LoadUnit postfix@-\.service: '
                                r'org\.freedesktop\.DBus\.Error\.'), 10)
            self.assertEqual(http("http://127.0.0.1:%d/-/healthy" % PORT)[0], 200)
        finally:
            start_bus_and_fake()
        wait(lambda: success() == 1, 10, "recovery when systemd is back")
        wait(lambda: log().count('msg="collector recovered" collector=services') == recovered + 1, 10,
             "one more 'collector recovered' line")

    def test_e_bus_goes_away_and_is_reconnected(self):
        LAB.stop_process("fake_systemd")
        LAB.stop_process("dbus-daemon")
        try:
            m = wait(lambda: failed_run(), 10, "a failed run without a bus")
            self.assertEqual(sample(m, "mailstack_service_up", unit="postfix"), 1)  # process checks go on
            self.assertLess(slowest_scrape(PORT, 1.5), 0.4)
        finally:
            start_bus_and_fake()
        wait(lambda: success() == 1, 15, "reconnected to the new bus")

    def test_f_process_checks_see_a_killed_daemon(self):
        m = metrics()
        for check in ("postfix", "dovecot", "opendkim"):
            self.assertEqual(sample(m, "mailstack_service_up", unit=check), 1, check)
            self.assertGreaterEqual(sample(m, "mailstack_service_processes", unit=check), 1, check)
        LAB.stop_process("opendkim")
        t0 = time.monotonic()
        wait(lambda: sample(metrics(), "mailstack_service_up", unit="opendkim") == 0, 5, "opendkim down")
        self.assertLess(time.monotonic() - t0, 3.0)  # within about one interval (1s) plus a scrape
        self.assertEqual(sample(metrics(), "mailstack_service_processes", unit="opendkim"), 0)
        LAB.start_opendkim()
        wait(lambda: sample(metrics(), "mailstack_service_up", unit="opendkim") == 1, 5, "opendkim up again")


if __name__ == "__main__":
    unittest.main(verbosity=2)
