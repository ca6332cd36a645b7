"""certificates (files) against certificates issued by the lab's throwaway CA with `openssl ca`:
timestamps equal `openssl x509 -enddate/-startdate` to the second; an expired certificate and one from
another CA are reported as such (valid 0), not dropped.
"""
import calendar
import datetime
import os
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import lab as labmod  # noqa: E402
from exporter_env import get_metrics, run, run_clock, sample, start_exporter, wait  # noqa: E402

LAB = None
PORT = None
CERTS = None


def openssl_time(path, which):
    out = run(["openssl", "x509", "-in", path, "-noout", "-" + which]).stdout.strip()
    # notAfter=Feb 20 22:55:56 2027 GMT
    return calendar.timegm(time.strptime(out.split("=", 1)[1], "%b %d %H:%M:%S %Y %Z"))


def setUpModule():
    global LAB, PORT, CERTS
    LAB = labmod.Lab()
    CERTS = os.path.join(LAB.root, "certs")
    os.makedirs(CERTS, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    good = LAB.issue_cert("good", not_before=now - datetime.timedelta(days=1),
                          not_after=now + datetime.timedelta(days=20, hours=3))
    old = LAB.issue_cert("old", not_before=now - datetime.timedelta(days=400),
                         not_after=now - datetime.timedelta(days=35))
    shutil.copy(good["crt"], os.path.join(CERTS, "good.crt"))
    shutil.copy(old["crt"], os.path.join(CERTS, "old.crt"))
    # A chain from another CA: the lab CA's own cert used as the "trusted" anchor of a self-made one.
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", os.path.join(CERTS, "other.key"), "-out", os.path.join(CERTS, "other.crt"), "-days", "30",
         "-subj", "/CN=other.example.test"])
    PORT = start_exporter(LAB, "exporter", "defaults: {interval: 1s, timeout: 800ms}\ncollectors:\n"
                          "  filesystem: {enabled: false}\n  postfix_queue: {enabled: false}\n  certificates:\n"
                          "    files: [\"%s/*.crt\", %s/gone.crt]\n    ca_file: %s\n" % (CERTS, CERTS, LAB.ca_cert))


def tearDownModule():
    if LAB:
        LAB.stop_all()


def metrics():
    return get_metrics(PORT)


class CertificatesTest(unittest.TestCase):
    def test_times_equal_openssl_and_validity(self):
        m = wait(lambda: (lambda m: m if sample(m, "mailstack_collector_success", collector="certificates") == 1
                          else None)(metrics()), 10, "a certificates run")
        earliest, latest = run_clock(m, "certificates")  # expiries count from the served run's clock
        for name, valid in (("good", 1), ("old", 0), ("other", 0)):
            path = os.path.join(CERTS, name + ".crt")
            lbl = dict(source="file", name=path, index="0")
            with self.subTest(cert=name):
                self.assertEqual(sample(m, "mailstack_tls_certificate_not_after_timestamp_seconds", **lbl),
                                 openssl_time(path, "enddate"))
                self.assertEqual(sample(m, "mailstack_tls_certificate_not_before_timestamp_seconds", **lbl),
                                 openssl_time(path, "startdate"))
                expiry = sample(m, "mailstack_tls_certificate_expiry_seconds", **lbl)
                self.assertGreaterEqual(expiry, openssl_time(path, "enddate") - latest)
                self.assertLessEqual(expiry, openssl_time(path, "enddate") - earliest)
                self.assertEqual(sample(m, "mailstack_tls_certificate_valid", **lbl), valid)
                self.assertEqual(sample(m, "mailstack_tls_certificate_file_error", name=path), 0)
        self.assertLess(sample(m, "mailstack_tls_certificate_expiry_seconds", source="file",
                               name=os.path.join(CERTS, "old.crt"), index="0"), -35 * 86400 + 5)
        self.assertEqual(sample(m, "mailstack_tls_certificate_file_error", name=os.path.join(CERTS, "gone.crt")), 1)
        info = [k for k in m if k[0] == "mailstack_tls_certificate_info"
                and ("name", os.path.join(CERTS, "good.crt")) in k[1]]
        self.assertEqual(len(info), 1)
        labels = dict(info[0][1])
        self.assertEqual(labels["subject"], "CN=mail.example.test")
        serial = run(["openssl", "x509", "-in", os.path.join(CERTS, "good.crt"), "-noout", "-serial"]).stdout
        self.assertEqual(labels["serial"], serial.strip().split("=")[1])
        fp = run(["openssl", "x509", "-in", os.path.join(CERTS, "good.crt"), "-noout", "-fingerprint", "-sha256"])
        self.assertEqual(labels["sha256"], fp.stdout.strip().split("=")[1].replace(":", "").lower())


if __name__ == "__main__":
    unittest.main(verbosity=2)
