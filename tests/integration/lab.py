"""Loopback mail-stack lab for mailstack_exporter integration tests.

Python 3 standard library only.  Run as root on Debian 12 with the packages
listed in docs/lab.md installed; no systemd, no network beyond loopback.

    lab = Lab()                      # wipes stale state under /var/lib/mailstack-test
    lab.start_opendkim()
    lab.start_nsd()
    lab.start_postfix()              # milter is wired in only if OpenDKIM runs
    lab.start_dovecot()              # needs postfix's private/ for the SASL socket
    ...
    # the logs collector's mix: Dovecot LMTP + quota, optionally all logs through a real rsyslogd
    lab.start_rsyslog()              # optional: owns /dev/log, writes log/syslog/mail.log
    lab.start_opendkim(internal_hosts=[])
    lab.start_postfix(lmtp=True, syslog=True)
    lab.start_dovecot(syslog=True, auth_failure_delay="0")
    lab.send_log_mix()
    lab.stop_all()                   # also registered with atexit

Every start_* method is idempotent-ish (a second call on a running daemon is a
no-op), waits with a bound, and raises LabError carrying the tail of the
daemon's own log when start-up fails.

Pitfalls that shaped this file are marked with "PITFALL:" comments.
"""

import atexit
import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

DEFAULT_ROOT = "/var/lib/mailstack-test"

# Fixed ports of the stack (tests and the exporter config refer to them).
PORTS = {
    "smtp": 25,
    "submissions": 465,
    "submission": 587,
    "fill": 10025,        # milter-free, TLS-free listener for filling the queue
    "imap": 143,
    "imaps": 993,
    "pop3": 110,
    "pop3s": 995,
    "milter": 8891,       # OpenDKIM
    "sieve": 4190,        # ManageSieve (RFC 5804), only if dovecot-managesieved is installed
    "dns": 5353,          # nsd, UDP and TCP
    "peer": 10026,        # FakeSmtpPeer (start_smtp_peer): a remote MX that rejects every RCPT
    "closed": 10027,      # nothing listens here: mail routed to it is deferred (Connection refused)
}

DOMAIN = "example.test"
MAIL_HOST = "mail.example.test"
PROBE_USER = "probe@example.test"
PROBE_PASSWORD = "probe-secret-1"
# A mailbox whose Dovecot quota (LMTP delivery only) is 1 byte: any message exceeds it.
FULL_USER = "full@example.test"
FULL_PASSWORD = "full-secret-1"
# transport_maps routes for the log mix (start_postfix): a peer that rejects, a closed port
PEER_DOMAIN = "blocked.test"
CLOSED_DOMAIN = "closed.test"
VMAIL_UID = 5000
VMAIL_GID = 5000

_MARKER = ".mailstack-lab"  # marks a root dir we created and may wipe

MANAGESIEVE_LOGIN = "/usr/lib/dovecot/managesieve-login"
MANAGESIEVE = "/usr/lib/dovecot/managesieve"


def managesieve_available():
    """True if Pigeonhole's ManageSieve server (dovecot-managesieved) is installed."""
    return all(os.access(p, os.X_OK) for p in (MANAGESIEVE_LOGIN, MANAGESIEVE))


# binary -> Debian package, checked before each daemon is started
_PACKAGES = {
    "postfix": "postfix", "postqueue": "postfix", "postsuper": "postfix", "postconf": "postfix",
    "dovecot": "dovecot-imapd dovecot-pop3d", "doveconf": "dovecot-core", "doveadm": "dovecot-core",
    # ManageSieve is optional: not on PATH, so require() is given the full path
    "/usr/lib/dovecot/managesieve-login": "dovecot-managesieved dovecot-sieve",
    "/usr/lib/dovecot/managesieve": "dovecot-managesieved dovecot-sieve",
    "opendkim": "opendkim", "opendkim-genkey": "opendkim-tools",
    "nsd": "nsd", "nsd-checkconf": "nsd", "nsd-checkzone": "nsd", "dig": "bind9-dnsutils",
    "prometheus": "prometheus", "promtool": "prometheus", "openssl": "openssl",
    "/usr/lib/dovecot/lmtp": "dovecot-lmtpd", "rsyslogd": "rsyslog",
}


def require(*binaries):
    """Raise LabError naming the apt package of any missing binary."""
    missing = [b for b in binaries if shutil.which(b, path=os.environ.get("PATH", "") +
                                                      ":/usr/sbin:/usr/bin:/sbin:/bin") is None]
    if missing:
        raise LabError("missing %s; install with: apt-get install -y %s" % (
            ", ".join(missing), " ".join(sorted({_PACKAGES.get(b, b) for b in missing}))))


class LabError(RuntimeError):
    """A lab operation failed; the message includes relevant log tails."""


class PortBusyError(LabError):
    pass


# --------------------------------------------------------------------------
# small process / socket helpers (module level so tests can use them too)
# --------------------------------------------------------------------------

def proc_state(pid):
    """State letter from /proc/PID/stat ('R', 'S', 'Z', ...), None if gone.

    PITFALL: daemons that double-fork are re-parented to PID 1, which here is
    not an init and reaps slowly; a dead daemon stays a zombie for seconds, so
    `kill -0` says "alive".  Z and X count as dead.
    """
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm may contain spaces and ')' - the state follows the LAST ')'.
    return data[data.rindex(b")") + 2:data.rindex(b")") + 3].decode()


def pid_alive(pid):
    return proc_state(pid) not in (None, "Z", "X")


def _starttime(pid):
    """Start time (clock ticks since boot) from /proc/PID/stat, '' if gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            d = f.read()
        return d[d.rindex(b")") + 2:].split()[19].decode()
    except (OSError, IndexError):
        return ""


def _proc_comm(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmd = f.read().replace(b"\0", b" ").strip().decode(errors="replace")
        return cmd[:80] or "?"
    except OSError:
        return "?"


def _socket_inodes_to_pids():
    owners = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            for fd in os.listdir("/proc/%s/fd" % d):
                try:
                    link = os.readlink("/proc/%s/fd/%s" % (d, fd))
                except OSError:
                    continue
                if link.startswith("socket:["):
                    owners.setdefault(link[8:-1], int(d))
        except OSError:
            continue
    return owners


def _listeners(proto):
    """Yield (ip, port, inode) of listening sockets from /proc/net/{proto}{,6}.

    For TCP only state 0A (LISTEN) counts; for UDP state 07 (bound)."""
    want = "0A" if proto == "tcp" else "07"
    for fn in ("/proc/net/%s" % proto, "/proc/net/%s6" % proto):
        try:
            with open(fn) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[3] != want:
                        continue
                    addr, port = parts[1].split(":")
                    yield addr, int(port, 16), parts[9]
        except FileNotFoundError:
            continue


def port_busy(port, proto="tcp"):
    """Return a description of who listens on PORT ('pid 123 (master ...)'),
    or None if nobody does.  Reads /proc/net/tcp|udp (no connection made, so
    no "lost connection" noise in daemon logs)."""
    hits = [inode for _a, p, inode in _listeners(proto) if p == port]
    if not hits:
        return None
    owners = _socket_inodes_to_pids()
    who = []
    for inode in hits:
        pid = owners.get(inode)
        who.append("pid %d (%s)" % (pid, _proc_comm(pid)) if pid else "an unknown process")
    return ", ".join(sorted(set(who)))


def ensure_port_free(port, proto="tcp"):
    """Raise PortBusyError("port 25 is already in use by pid 123 (...)")."""
    who = port_busy(port, proto)
    if who:
        raise PortBusyError("port %d%s is already in use by %s" % (
            port, "" if proto == "tcp" else "/" + proto, who))


def port_listening(port, proto="tcp"):
    return any(p == port for _a, p, _i in _listeners(proto))


def free_port():
    """An ephemeral loopback TCP port that is free right now (small race)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def tail(path, n=40):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 64 * 1024))
            lines = f.read().decode(errors="replace").splitlines()
        return "\n".join(lines[-n:])
    except OSError as e:
        return "<no log %s: %s>" % (path, e)


def wait_until(pred, timeout, what, interval=0.05, logs=()):
    """Poll pred() until truthy (returned) or raise LabError after timeout.
    Other exceptions from pred() are retried; a LabError aborts at once."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except LabError:
            raise
        except Exception as e:  # noqa: BLE001 - reported below
            last_exc = e
        if time.monotonic() >= deadline:
            msg = "timed out after %.1fs waiting for %s" % (timeout, what)
            if last_exc is not None:
                msg += " (last error: %r)" % (last_exc,)
            for p in logs:
                msg += "\n--- tail of %s ---\n%s" % (p, tail(p))
            raise LabError(msg)
        time.sleep(interval)


def run(argv, timeout=60, check=True, env=None, input=None):
    """subprocess.run with a bound; raises LabError with stderr/stdout."""
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, env=env, input=input,
                           stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise LabError("%s timed out after %ss" % (" ".join(argv), timeout)) from e
    if check and r.returncode != 0:
        raise LabError("%s exited %d\nstdout: %s\nstderr: %s" % (
            " ".join(argv), r.returncode, r.stdout.decode(errors="replace")[-2000:],
            r.stderr.decode(errors="replace")[-2000:]))
    return r


def _write(path, text, mode=0o644, uid=None, gid=None):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    if uid is not None:
        os.chown(tmp, uid, gid)
    os.rename(tmp, path)


def _mkdir(path, mode=0o755, uid=None, gid=None):
    os.makedirs(path, exist_ok=True)
    os.chmod(path, mode)
    if uid is not None:
        os.chown(path, uid, gid)
    return path


def _ids(user):
    import pwd
    pw = pwd.getpwnam(user)
    return pw.pw_uid, pw.pw_gid


# --------------------------------------------------------------------------
# /dev/log shim for OpenDKIM
# --------------------------------------------------------------------------

class DevLogListener:
    """Datagram listener on /dev/log appending each syslog line to a file.

    PITFALL: OpenDKIM logs only through syslog(3); with no /dev/log its lines
    vanish.  Only bound if /dev/log is missing (or a dead leftover socket of
    ours); the socket file is removed again on stop().
    """

    PATH = "/dev/log"

    def __init__(self, logfile):
        self.logfile = logfile
        self.sock = None
        self.thread = None
        self.owned = False

    @staticmethod
    def _alive(path):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            s.connect(path)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def start(self):
        if os.path.exists(self.PATH):
            if self._alive(self.PATH):
                return False  # a real syslog (or another lab) is there: leave it
            os.unlink(self.PATH)  # stale socket from a crashed run
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.PATH)
        os.chmod(self.PATH, 0o666)
        self.sock.settimeout(0.2)
        self.owned = True
        self.thread = threading.Thread(target=self._loop, name="devlog", daemon=True)
        self.thread.start()
        return True

    def _loop(self):
        pri = re.compile(rb"^<\d+>")
        while self.owned:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            line = pri.sub(b"", data).rstrip(b"\n\0") + b"\n"
            try:
                with open(self.logfile, "ab") as f:
                    f.write(line)
            except OSError:
                pass

    def stop(self):
        if not self.owned:
            return
        self.owned = False
        if self.thread:
            self.thread.join(2)
        try:
            self.sock.close()
        except OSError:
            pass
        try:
            os.unlink(self.PATH)
        except FileNotFoundError:
            pass


# --------------------------------------------------------------------------
# a fake remote SMTP server
# --------------------------------------------------------------------------

class FakeSmtpPeer:
    """Minimal SMTP server on 127.0.0.1:port that accepts EHLO/MAIL and answers every RCPT with
    `rcpt_reply` (so Postfix's smtp(8) bounces or defers the recipient), DATA with 554, RSET/NOOP
    with 250, QUIT with 221.  Each session is a thread; `rcpts` counts the RCPT commands seen."""

    BLOCKED_REPLY = "550 5.7.1 Service unavailable; client [127.0.0.1] blocked using zen.spamhaus.org"

    def __init__(self, port, rcpt_reply=BLOCKED_REPLY):
        self.port = port
        self.rcpt_reply = rcpt_reply
        self.rcpts = 0
        self.sessions = 0
        self._lock = threading.Lock()
        self._sock = None
        self._thread = None
        self._stop = threading.Event()

    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(16)
        s.settimeout(0.2)
        self._sock = s
        self._thread = threading.Thread(target=self._accept_loop, name="smtp-peer", daemon=True)
        self._thread.start()

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, _addr = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        with self._lock:
            self.sessions += 1
        f = conn.makefile("rb")
        try:
            conn.settimeout(30)
            conn.sendall(b"220 mx.blocked.test ESMTP fake peer\r\n")
            while not self._stop.is_set():
                line = f.readline()
                if not line:
                    break
                verb = line.split(b" ", 1)[0].strip().upper()
                if verb in (b"EHLO", b"HELO"):
                    reply = "250 mx.blocked.test"
                elif verb in (b"MAIL", b"RSET", b"NOOP"):
                    reply = "250 2.0.0 Ok"
                elif verb == b"RCPT":
                    with self._lock:
                        self.rcpts += 1
                    reply = self.rcpt_reply
                elif verb == b"DATA":
                    reply = "554 5.5.1 Error: no valid recipients"
                elif verb == b"QUIT":
                    conn.sendall(b"221 2.0.0 Bye\r\n")
                    break
                else:
                    reply = "502 5.5.2 Error: command not recognized"
                conn.sendall(reply.encode() + b"\r\n")
        except OSError:
            pass
        finally:
            f.close()     # the socket stays open while a makefile() object of it is open
            conn.close()

    def stop(self):
        self._stop.set()
        if self._sock is not None:
            self._sock.close()
        if self._thread is not None:
            self._thread.join(2)


# --------------------------------------------------------------------------
# the lab
# --------------------------------------------------------------------------

class Lab:
    """Private Postfix/Dovecot/OpenDKIM/nsd/Prometheus instances on loopback.

    All state lives under `root` (default /var/lib/mailstack-test, NOT /tmp:
    OpenDKIM refuses keys below world-writable parents).  With fresh=True the
    constructor kills leftovers of an earlier run (PIDs recorded in
    <root>/pids.txt, and lab daemons whose cwd/cmdline/environment point
    into root) and wipes root.  One Lab per root at a time.
    """

    def __init__(self, root=DEFAULT_ROOT, fresh=True, verbose=False):
        if os.geteuid() != 0:
            raise LabError("the lab must run as root")
        root = os.path.abspath(root)
        if root.count("/") < 2 or root.startswith("/tmp/") or root in ("/var", "/var/lib"):
            raise LabError("refusing lab root %r" % root)
        self.root = root
        self.verbose = verbose
        self.procs = {}          # name -> subprocess.Popen
        self.proc_logs = {}      # name -> [log paths to show on failure]
        self.stop_grace = {}     # name -> seconds between SIGTERM and SIGKILL
        self.timings = {}        # operation -> seconds
        self._devlog = None
        self._postfix_running = False
        self.milter_enabled = None   # set by start_postfix
        self.lmtp_enabled = None     # set by start_postfix: virtual_transport is Dovecot LMTP
        self.postfix_syslog = False  # set by start_postfix: no maillog_file, syslog(3) -> /dev/log
        self.dovecot_syslog = False  # set by start_dovecot: log_path = syslog
        self._peer = None            # FakeSmtpPeer, see start_smtp_peer

        # layout -----------------------------------------------------------
        self.log_dir = os.path.join(root, "log")
        self.maillog = os.path.join(self.log_dir, "mail.log")
        self.pki_dir = os.path.join(root, "pki")
        self.ca_cert = os.path.join(self.pki_dir, "ca.crt")
        self.server_pem = os.path.join(self.pki_dir, "server.pem")  # key + cert
        self.server_key = os.path.join(self.pki_dir, "server.key")
        self.server_crt = os.path.join(self.pki_dir, "server.crt")
        self.config_dir = os.path.join(root, "postfix", "etc")
        self.queue_directory = os.path.join(root, "postfix", "spool")
        self.data_directory = os.path.join(root, "postfix", "data")
        self.showq_socket = os.path.join(self.queue_directory, "public", "showq")
        self.sasl_socket = os.path.join(self.queue_directory, "private", "auth")
        # Dovecot LMTP for Postfix: lmtp(8) runs with cwd = queue_directory (chroot = n)
        self.lmtp_socket = os.path.join(self.queue_directory, "private", "dovecot-lmtp")
        self.vmail_dir = os.path.join(root, "vmail")
        self.dovecot_dir = os.path.join(root, "dovecot")
        self.dovecot_conf = os.path.join(self.dovecot_dir, "dovecot.conf")
        self.dovecot_log = os.path.join(self.log_dir, "dovecot.log")
        self.sieve_dir = os.path.join(self.dovecot_dir, "sieve")   # per-user Sieve scripts
        self.sieve_enabled = None    # set by start_dovecot
        self.opendkim_dir = os.path.join(root, "opendkim")
        self.opendkim_conf = os.path.join(self.opendkim_dir, "opendkim.conf")
        self.dkim_key_dir = os.path.join(self.opendkim_dir, "keys")
        self.dkim_key_file = os.path.join(self.dkim_key_dir, "mail.private")
        self.dkim_txt_file = os.path.join(self.dkim_key_dir, "mail.txt")
        self.nsd_dir = os.path.join(root, "nsd")
        self.nsd_conf = os.path.join(self.nsd_dir, "nsd.conf")
        self.nsd_zones_dir = os.path.join(self.nsd_dir, "zones")
        self.nsd_log = os.path.join(self.log_dir, "nsd.log")
        # rsyslog (start_rsyslog): Debian's traditional mail.log, everything else elsewhere
        self.rsyslog_dir = os.path.join(root, "rsyslog")
        self.rsyslog_conf = os.path.join(self.rsyslog_dir, "rsyslog.conf")
        self.rsyslog_pidfile = os.path.join(self.rsyslog_dir, "rsyslog.pid")
        self.syslog_maillog = os.path.join(self.log_dir, "syslog", "mail.log")
        self.syslog_other = os.path.join(self.log_dir, "syslog", "other.log")
        self.prom_dir = os.path.join(root, "prometheus")
        self.prom_data = os.path.join(root, "prom-data")
        self.prom_port = None
        self.prom_url = None
        self.zones = None        # name -> zone text, set by start_nsd
        self._zone_serial = int(time.time()) % 1000000000
        self.ports = dict(PORTS)

        if fresh:
            self.wipe()
        _mkdir(root, 0o755)
        open(os.path.join(root, _MARKER), "a").close()
        _mkdir(self.log_dir, 0o755)
        atexit.register(self.stop_all)
        _install_sigterm_handler(self)

    # ------------------------------------------------------------------ misc
    def _log(self, msg):
        if self.verbose:
            sys.stderr.write("[lab] %s\n" % msg)

    def _timed(self, key, t0):
        self.timings[key] = time.monotonic() - t0

    @property
    def postfix_log(self):
        """Where Postfix's lines are: maillog (postlogd) or rsyslog's mail.log (start_postfix(syslog=True))."""
        return self.syslog_maillog if self.postfix_syslog else self.maillog

    @property
    def dovecot_log_file(self):
        """Where Dovecot's lines are: dovecot_log or rsyslog's mail.log (start_dovecot(syslog=True))."""
        return self.syslog_maillog if self.dovecot_syslog else self.dovecot_log

    def wipe(self):
        """Kill leftovers of a previous run under root, unmount what a test left mounted below it, then delete
        root."""
        if os.path.isdir(self.root):
            if os.listdir(self.root) and not os.path.exists(os.path.join(self.root, _MARKER)):
                raise LabError("%s exists, is not empty and was not made by the lab "
                               "(no %s marker); refusing to wipe it" % (self.root, _MARKER))
        self._kill_stale()
        for mount in self._mounts_below_root():
            subprocess.run(["umount", "--lazy", mount], capture_output=True)
        left = self._mounts_below_root()
        if left:  # rmtree would delete what is on them
            raise LabError("cannot unmount %s below the lab root; refusing to wipe it" % ", ".join(left))
        if os.path.isdir(self.root):
            shutil.rmtree(self.root)

    def _mounts_below_root(self):
        """Mount points strictly below root, deepest first (/proc/self/mountinfo field 5, octal escapes)."""
        below = []
        prefix = os.path.realpath(self.root).rstrip("/") + "/"
        with open("/proc/self/mountinfo") as f:
            for line in f:
                point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
                if point.startswith(prefix):
                    below.append(point)
        return sorted(below, key=len, reverse=True)

    # Executables whose leftovers may be killed when they refer to the root.
    # Deliberately NOT "anything mentioning the root": an engineer's
    # `tail -f <root>/log/mail.log` or a shell cd'ed into it must survive.
    _DAEMON_EXE_PREFIXES = ("/usr/lib/postfix/", "/usr/lib/dovecot/")
    _DAEMON_EXES = {"/usr/sbin/postfix", "/usr/sbin/postdrop", "/usr/sbin/postqueue",
                    "/usr/sbin/postsuper", "/usr/sbin/postlog", "/usr/sbin/dovecot",
                    "/usr/sbin/nsd", "/usr/sbin/opendkim", "/usr/sbin/rsyslogd", "/usr/bin/prometheus",
                    "/usr/bin/prometheus-alertmanager"}

    @property
    def _registry(self):
        return os.path.join(self.root, "pids.txt")

    def _register_pid(self, name, pid):
        """Remember "pid starttime name" so that a later run can kill what a
        crashed run left behind (starttime guards against PID reuse)."""
        with open(self._registry, "a") as f:
            f.write("%d %s %s\n" % (pid, _starttime(pid), name))

    def _lab_pids(self):
        """Live leftovers of a lab under this root: processes recorded by
        start_process(), plus lab daemons (known executables) whose cwd,
        cmdline or environment point into the root."""
        ancestors = set()
        p = os.getpid()
        while p > 1:
            ancestors.add(p)
            try:
                with open("/proc/%d/stat" % p, "rb") as f:
                    d = f.read()
                p = int(d[d.rindex(b")") + 2:].split()[1])
            except (OSError, ValueError):
                break
        found = set()
        try:
            with open(self._registry) as f:
                for line in f:
                    pid, start, _name = line.split(None, 2)
                    pid = int(pid)
                    if pid not in ancestors and pid_alive(pid) and _starttime(pid) == start:
                        found.add(pid)
        except (OSError, ValueError):
            pass
        needle = self.root.encode()
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) in ancestors or d == "1":
                continue
            pid = int(d)
            try:
                exe = os.readlink("/proc/%d/exe" % pid)
            except OSError:
                continue
            if not (exe in self._DAEMON_EXES or exe.startswith(self._DAEMON_EXE_PREFIXES)):
                continue
            hit = False
            try:
                cwd = os.readlink("/proc/%d/cwd" % pid)
                hit = cwd == self.root or cwd.startswith(self.root + "/")
            except OSError:
                pass
            for what in ("cmdline", "environ"):
                if hit:
                    break
                try:
                    with open("/proc/%d/%s" % (pid, what), "rb") as f:
                        blob = f.read() + b"\0"
                    hit = (needle + b"/") in blob or (needle + b"\0") in blob
                except OSError:
                    pass
            if hit and pid_alive(pid):
                found.add(pid)
        return sorted(found)

    def _kill_stale(self):
        pids = self._lab_pids()
        if not pids:
            return
        self._log("killing stale lab processes %s" % pids)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
                time.sleep(0.05)
            pids = [p for p in pids if pid_alive(p)]
            if not pids:
                break

    # ------------------------------------------------------- generic process
    def start_process(self, name, argv, log=None, env=None, cwd=None,
                      ready=None, timeout=30, logs=(), stop_grace=10.0):
        """Start argv in the background (own session), record its PID.

        stdout+stderr go to `log` (default <root>/log/<name>.out).  If `ready`
        (a callable) is given, wait up to `timeout` s for it to return true;
        fail early if the process dies (raising LabError with the log tails
        of `log` and `logs`).  On stop it gets SIGTERM and, after
        `stop_grace` s, SIGKILL.  Returns the Popen object.
        """
        if name in self.procs and self.procs[name].poll() is None:
            return self.procs[name]
        log = log or os.path.join(self.log_dir, "%s.out" % name)
        os.makedirs(os.path.dirname(log), exist_ok=True)
        logf = open(log, "ab")
        try:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf,
                                 stderr=subprocess.STDOUT, env=env,
                                 cwd=cwd or self.root,
                                 start_new_session=True)  # Ctrl-C of the test runner does not hit it
        finally:
            logf.close()
        self.procs[name] = p
        self._register_pid(name, p.pid)
        self.proc_logs[name] = [log] + list(logs)
        self.stop_grace[name] = stop_grace
        self._log("started %s pid %d: %s" % (name, p.pid, " ".join(argv)))
        if ready is not None:
            def check():
                if p.poll() is not None:
                    raise LabError("%s exited with status %s during start-up" % (name, p.returncode))
                return ready()
            try:
                wait_until(check, timeout, "%s to become ready" % name)
            except LabError as e:
                self.stop_process(name)
                msg = str(e)
                for path in self.proc_logs[name]:
                    msg += "\n--- tail of %s ---\n%s" % (path, tail(path))
                raise LabError(msg) from None
        return p

    def stop_process(self, name, timeout=None):
        """SIGTERM, then SIGKILL (also to its process group) after `timeout`
        (default: the stop_grace given to start_process)."""
        p = self.procs.pop(name, None)
        if p is None:
            return
        if timeout is None:
            timeout = self.stop_grace.get(name, 10.0)
        if p.poll() is None:
            try:
                p.terminate()
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                self._log("%s did not stop on SIGTERM, killing" % name)
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        # children of the daemon (same process group) that outlived it
        self._killpg_leftovers(p.pid)

    @staticmethod
    def _killpg_leftovers(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def pid(self, name):
        p = self.procs.get(name)
        return p.pid if p and p.poll() is None else None

    def _fail(self, what, logs, extra=""):
        msg = "%s failed%s" % (what, (": " + extra) if extra else "")
        for path in logs:
            msg += "\n--- tail of %s ---\n%s" % (path, tail(path))
        raise LabError(msg)

    # --------------------------------------------------------------- PKI
    def ensure_ca(self):
        """Create the throwaway CA (idempotent).  Uses `openssl ca` so that
        certificates with arbitrary (also past) validity can be issued."""
        if os.path.exists(self.ca_cert):
            return
        d = _mkdir(self.pki_dir, 0o755)     # keys inside are 0600
        _mkdir(os.path.join(d, "newcerts"), 0o755)
        open(os.path.join(d, "index.txt"), "w").close()
        _write(os.path.join(d, "serial"), "1000\n")
        _write(os.path.join(d, "index.txt.attr"), "unique_subject = no\n")
        _write(os.path.join(d, "ca.cnf"), """\
[ ca ]
default_ca = lab_ca
[ lab_ca ]
dir = {d}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
certificate = $dir/ca.crt
private_key = $dir/ca.key
serial = $dir/serial
default_md = sha256
default_days = 90
policy = policy_any
unique_subject = no
email_in_dn = no
copy_extensions = none
[ policy_any ]
commonName = supplied
organizationName = optional
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = placeholder
""".format(d=d))
        run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
             "-out", os.path.join(d, "ca.key")])
        os.chmod(os.path.join(d, "ca.key"), 0o600)
        run(["openssl", "req", "-x509", "-new", "-key", os.path.join(d, "ca.key"),
             "-subj", "/O=mailstack lab/CN=Mailstack Test CA", "-days", "3650", "-sha256",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-out", self.ca_cert])
        os.chmod(self.ca_cert, 0o644)

    def issue_cert(self, name, cn=MAIL_HOST, sans=("DNS:" + MAIL_HOST, "DNS:localhost", "IP:127.0.0.1"),
                   not_before=None, not_after=None, bits=2048):
        """Issue a server certificate from the lab CA.

        not_before/not_after: datetime (UTC) or None (now-1h / now+90d); both
        may be in the past (expired cert).  Returns dict(key, crt, pem) paths;
        `pem` is key followed by cert (Postfix smtpd_tls_chain_files order).
        """
        self.ensure_ca()
        d = self.pki_dir
        now = datetime.datetime.now(datetime.timezone.utc)
        nb = not_before or now - datetime.timedelta(hours=1)
        na = not_after or now + datetime.timedelta(days=90)
        fmt = "%Y%m%d%H%M%SZ"
        key = os.path.join(d, name + ".key")
        csr = os.path.join(d, name + ".csr")
        crt = os.path.join(d, name + ".crt")
        pem = os.path.join(d, name + ".pem")
        ext = os.path.join(d, name + ".ext")
        _write(ext, "[ v3_server ]\nbasicConstraints = critical,CA:FALSE\n"
                    "keyUsage = critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage = serverAuth\n"
                    "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n"
                    "subjectAltName = %s\n" % ",".join(sans))
        run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:%d" % bits,
             "-out", key])
        os.chmod(key, 0o600)
        run(["openssl", "req", "-new", "-key", key, "-subj", "/CN=%s" % cn, "-out", csr])
        run(["openssl", "ca", "-batch", "-notext", "-config", os.path.join(d, "ca.cnf"),
             "-startdate", nb.strftime(fmt), "-enddate", na.strftime(fmt),
             "-extfile", ext, "-extensions", "v3_server", "-in", csr, "-out", crt])
        os.chmod(crt, 0o644)
        with open(key) as k, open(crt) as c:
            # write + rename: a rotation is a single rename(2)
            _write(pem, k.read() + c.read(), 0o600)
        return {"key": key, "crt": crt, "pem": pem}

    def ensure_server_cert(self):
        if not os.path.exists(self.server_pem):
            t0 = time.monotonic()
            self.issue_cert("server")
            self._timed("make_ca_and_server_cert", t0)

    def ssl_context(self, check_hostname=True):
        """Client context trusting only the lab CA."""
        self.ensure_server_cert()
        ctx = ssl.create_default_context(cafile=self.ca_cert)
        ctx.check_hostname = check_hostname
        return ctx

    # --------------------------------------------------------------- Postfix
    def postfix_cmd(self, *args, timeout=60, check=True):
        """Run a Postfix CLI (postfix, postqueue, postsuper, postconf ...)
        against the lab instance: every one of them needs -c DIR."""
        return run([args[0], "-c", self.config_dir] + list(args[1:]), timeout=timeout, check=check)

    def _postfix_master_pid(self):
        try:
            with open(os.path.join(self.queue_directory, "pid", "master.pid")) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def _postfix_main_cf(self, milter, overrides, lmtp=False, syslog=False):
        # NOTE: mynetworks is EMPTY: 127.0.0.1 must not be trusted, otherwise
        # every loopback client could relay anywhere.
        s = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue_directory,
            "data_directory": self.data_directory,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": MAIL_HOST,
            "mydomain": DOMAIN,
            "myorigin": DOMAIN,
            "mydestination": "",                # no local(8) delivery at all
            "alias_maps": "", "alias_database": "",
            "local_recipient_maps": "",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "mynetworks": "",
            "smtpd_banner": "$myhostname ESMTP",
            "biff": "no",
            "append_dot_mydomain": "no",
            "readme_directory": "no",
            # logging without syslog: file + postlog service in master.cf.
            # PITFALL: without a TTY the `postfix` command reports its errors
            # only here; maillog_file must be under maillog_file_prefixes.
            "maillog_file": self.maillog,
            "maillog_file_prefixes": "/var, /dev/stdout, %s" % self.root,
            # nothing leaves the box
            "smtp_dns_support_level": "disabled",
            "default_transport": "error:lab has no outside network",
            "relay_transport": "error:lab has no outside network",
            "relay_domains": "defer.test",
            "transport_maps": "texthash:%s/transport" % self.config_dir,
            "defer_transports": "labdefer",
            "header_checks": "regexp:%s/header_checks" % self.config_dir,
            # keep the queue still during tests (no periodic retries)
            "queue_run_delay": "3600s",
            "minimal_backoff_time": "3600s",
            "maximal_backoff_time": "3600s",
            # virtual Maildir delivery for example.test
            "virtual_mailbox_domains": DOMAIN,
            "virtual_mailbox_base": self.vmail_dir,
            "virtual_mailbox_maps": "texthash:%s/vmailbox" % self.config_dir,
            "virtual_alias_maps": "texthash:%s/valias" % self.config_dir,
            "virtual_uid_maps": "static:%d" % VMAIL_UID,
            "virtual_gid_maps": "static:%d" % VMAIL_GID,
            # TLS: key + cert in one file so a rotation is one rename(2)
            "smtpd_tls_chain_files": self.server_pem,
            "smtpd_tls_security_level": "may",
            "smtpd_tls_auth_only": "yes",
            "smtpd_tls_loglevel": "1",
            "smtpd_tls_received_header": "yes",
            "smtp_tls_security_level": "none",
            # SASL via Dovecot; path is relative to queue_directory (chroot=n)
            "smtpd_sasl_type": "dovecot",
            "smtpd_sasl_path": "private/auth",
            "smtpd_sasl_auth_enable": "no",
            "smtpd_relay_restrictions": "permit_sasl_authenticated, reject_unauth_destination",
            "milter_protocol": "6",
            "milter_default_action": "accept",
            "smtpd_milters": "",
            "non_smtpd_milters": "",
        }
        if lmtp:
            # Dovecot LMTP instead of virtual(8); relative to queue_directory (lmtp(8) runs there, chroot=n).
            # virtual_mailbox_maps still decides which recipients smtpd accepts.
            s["virtual_transport"] = "lmtp:unix:private/dovecot-lmtp"
        if syslog:
            # PITFALL: an empty maillog_file makes every Postfix program log through syslog(3) to /dev/log
            # (start_rsyslog first: with nobody on /dev/log the lines vanish, also `postfix start` errors).
            s["maillog_file"] = ""
        if overrides:
            s.update(overrides)
        return "".join("%s = %s\n" % kv for kv in s.items())

    def _postfix_master_cf(self, milter, extra_master):
        milter_opt = " -o smtpd_milters=inet:127.0.0.1:%d" % self.ports["milter"] if milter else ""
        P = self.ports
        # PITFALL: chroot must be "n" on every service: the chroot needs files
        # (resolv.conf, services, ...) the init script normally copies in.
        lines = """\
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:{smtp} inet n - n - - smtpd{m}
127.0.0.1:{submission} inet n - n - - smtpd{m}
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
  -o smtpd_client_restrictions=
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
127.0.0.1:{submissions} inet n - n - - smtpd
  -o syslog_name=postfix/submissions
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
# fast, milter-free, TLS-free listener for filling the queue.  in_flow_delay=0:
# do not throttle the client when arrivals outpace the queue manager.
127.0.0.1:{fill} inet n - n - - smtpd
  -o syslog_name=postfix/fill
  -o smtpd_milters=
  -o smtpd_tls_security_level=none
  -o smtpd_sasl_auth_enable=no
  -o in_flow_delay=0s
  -o smtpd_error_sleep_time=0
  -o smtpd_soft_error_limit=10000
  -o smtpd_hard_error_limit=10000
  -o smtpd_client_restrictions=
  -o smtpd_helo_restrictions=
  -o smtpd_sender_restrictions=
  -o smtpd_relay_restrictions=reject_unauth_destination
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
# listed in defer_transports: mail routed here is deferred without any
# delivery attempt ("deferred transport"), so it lands in deferred/ at once
labdefer  unix  -       -       n       -       -       smtp
""".format(m=milter_opt, **P)
        return lines + (extra_master or "")

    def start_postfix(self, milter=None, main_overrides=None, extra_master=None, timeout=30, lmtp=False,
                      syslog=False):
        """Start the private Postfix instance (postfix -c DIR start).

        milter: True/False to wire OpenDKIM (inet:127.0.0.1:8891) into the
        port 25 and 587 listeners; None = only if start_opendkim() runs.
        main_overrides: dict of extra/overriding main.cf settings.
        extra_master: text appended to master.cf.
        lmtp: deliver example.test over Dovecot LMTP (unix socket private/dovecot-lmtp, served once
        start_dovecot() runs; it enables LMTP by itself then) instead of virtual(8) into the Maildirs.
        syslog: no maillog_file: Postfix logs through syslog(3) to /dev/log (start_rsyslog() first);
        self.postfix_log names the file its lines end up in.
        """
        if self._postfix_master_pid():
            return
        t0 = time.monotonic()
        require("postfix", "postconf", "postqueue", "postsuper", "openssl")
        if milter is None:
            milter = self.pid("opendkim") is not None
        for k in ("smtp", "submissions", "submission", "fill"):
            ensure_port_free(self.ports[k])
        self.ensure_server_cert()
        pf_uid, pf_gid = _ids("postfix")
        _mkdir(self.config_dir, 0o755)
        # queue_directory root-owned; data_directory owned by postfix
        _mkdir(self.queue_directory, 0o755, 0, 0)
        _mkdir(self.data_directory, 0o700, pf_uid, pf_gid)
        _mkdir(self.vmail_dir, 0o755, VMAIL_UID, VMAIL_GID)
        if not syslog:
            open(self.maillog, "a").close()
        c = self.config_dir
        if syslog and not DevLogListener._alive(DevLogListener.PATH):
            raise LabError("start_postfix(syslog=True): nobody listens on /dev/log (start_rsyslog() first)")
        self.postfix_syslog = bool(syslog)
        self.lmtp_enabled = bool(lmtp)
        _write(os.path.join(c, "main.cf"), self._postfix_main_cf(milter, main_overrides, lmtp, syslog))
        _write(os.path.join(c, "master.cf"), self._postfix_master_cf(milter, extra_master))
        # texthash: maps need no postmap step
        # defer.test: deferred without an attempt (defer_transports); closed.test: an attempt at a closed
        # port (Connection refused, deferred); blocked.test: the FakeSmtpPeer (start_smtp_peer)
        _write(os.path.join(c, "transport"), "defer.test labdefer:[127.0.0.1]:9\n"
               "%s smtp:[127.0.0.1]:%d\n%s smtp:[127.0.0.1]:%d\n"
               % (CLOSED_DOMAIN, self.ports["closed"], PEER_DOMAIN, self.ports["peer"]))
        _write(os.path.join(c, "header_checks"), "/^X-Test-Hold:/ HOLD lab hold fixture\n")
        _write(os.path.join(c, "vmailbox"),
               "%s %s/probe/\npostmaster@%s %s/postmaster/\n%s %s/full/\n"
               % (PROBE_USER, DOMAIN, DOMAIN, DOMAIN, FULL_USER, DOMAIN))
        _write(os.path.join(c, "valias"),
               "root@%s postmaster@%s\nabuse@%s postmaster@%s\n" % ((DOMAIN,) * 4))
        # PITFALL: Postfix's dict_load_file() "pauses to let <file> finish being
        # updated" (300 ms naps, ~2 s total) whenever main.cf or a texthash map
        # was modified within the last second -- in EVERY postfix command and
        # daemon that reads it.  Backdate everything we just wrote.
        self._backdate_postfix_config()
        # `postfix check` creates the queue sub-directories (incl. private/,
        # where Dovecot puts the SASL socket) and reports permission problems
        # on stdout/stderr before anything runs (~0.25 s once backdated).
        r = self.postfix_cmd("postfix", "check", check=False, timeout=timeout)
        if r.returncode != 0:
            self._fail("postfix check (exit %d)" % r.returncode, [self.postfix_log],
                       (r.stdout + r.stderr).decode(errors="replace"))
        r = self.postfix_cmd("postfix", "start", check=False, timeout=timeout)
        if r.returncode != 0:
            # PITFALL: without a TTY the reason is only in the maillog -- and
            # for master(8) initialisation errors (bad master.cf entry, port
            # in use) not even there: master sends them to the postlog socket
            # before any postlogd runs, and they are lost.  Re-run master in
            # the foreground, logging to syslog, to get the real reason.
            self._fail("postfix start (exit %d)" % r.returncode, [self.postfix_log],
                       (r.stdout + r.stderr).decode(errors="replace")
                       + "\n--- master(8) diagnosis ---\n" + self._postfix_diagnose())
        self._postfix_running = True
        ports = [self.ports[k] for k in ("smtp", "submissions", "submission", "fill")]
        wait_until(lambda: self._postfix_master_pid() and all(port_listening(p) for p in ports)
                   and os.path.exists(self.showq_socket),
                   timeout, "postfix master and listeners %s" % ports, logs=[self.postfix_log])
        self.milter_enabled = milter
        self._timed("start_postfix", t0)

    def _postfix_diagnose(self, timeout=10):
        """Run master(8) in the foreground on a copy of the config with
        maillog_file unset, so its start-up errors go to syslog(3) ->
        /dev/log (our listener if there is no real syslog).  Returns them."""
        diag = self.config_dir + ".diag"
        shutil.rmtree(diag, ignore_errors=True)
        shutil.copytree(self.config_dir, diag)
        run(["postconf", "-c", diag, "-e", "maillog_file="], check=False)
        for n in os.listdir(diag):
            os.utime(os.path.join(diag, n), (time.time() - 10,) * 2)
        out = os.path.join(self.log_dir, "postfix-diagnose.log")
        listener = DevLogListener(out)
        if not listener.start():
            if self._devlog is not None and self._devlog.owned:
                out = self.maillog   # our own /dev/log listener writes there
            elif self.pid("rsyslog"):
                out = self.syslog_maillog   # our rsyslog owns /dev/log
            else:
                shutil.rmtree(diag, ignore_errors=True)
                return "(/dev/log belongs to a running syslog daemon: see its mail log)"
        try:
            env = dict(os.environ, MAIL_CONFIG=diag)
            # -e: exit after a few seconds should initialisation succeed now
            try:
                subprocess.run(["/usr/lib/postfix/sbin/master", "-d", "-e", "3"], env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.3)   # let the listener thread write the last datagram
        finally:
            listener.stop()
            shutil.rmtree(diag, ignore_errors=True)
        return tail(out, 20)

    def _backdate_postfix_config(self, seconds=10):
        past = time.time() - seconds
        for n in os.listdir(self.config_dir):
            os.utime(os.path.join(self.config_dir, n), (past, past))

    def postconf(self, **settings):
        """Change main.cf settings (postconf -e) and reload Postfix."""
        args = ["%s=%s" % kv for kv in settings.items()]
        self.postfix_cmd("postconf", "-e", *args)
        self._backdate_postfix_config()   # see start_postfix: avoid the ~2 s pause
        if self._postfix_master_pid():
            self.postfix_cmd("postfix", "reload")

    def stop_postfix(self, timeout=15):
        """postfix -c DIR stop, bounded; SIGKILL master and strays after."""
        pid = self._postfix_master_pid()
        if pid is None and not self._postfix_running:
            return
        self.postfix_cmd("postfix", "stop", check=False, timeout=timeout)
        # master is re-parented to PID 1 (daemon): poll /proc state, not kill -0
        deadline = time.monotonic() + timeout
        while pid and pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        self._postfix_kill_leftovers(pid)
        self._postfix_running = False

    def _postfix_kill_leftovers(self, master_pid, timeout=10):
        killed = []
        if master_pid and pid_alive(master_pid):
            os.kill(master_pid, signal.SIGKILL)
            killed.append(master_pid)
        # stray children carry MAIL_CONFIG=<config_dir> in their environment
        needle = ("MAIL_CONFIG=%s\0" % self.config_dir).encode()
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open("/proc/%s/environ" % d, "rb") as f:
                        if needle in f.read() and pid_alive(int(d)):
                            os.kill(int(d), signal.SIGKILL)
                            killed.append(int(d))
                except OSError:
                    pass
        # Gone (or a zombie) before anyone reuses their ports: an smtpd that still holds an inherited listener
        # would make the next start_postfix see its port busy.
        wait_until(lambda: not any(pid_alive(p) for p in killed), timeout, "killed Postfix processes to exit")

    # queue helpers ----------------------------------------------------------
    def queue_json(self):
        """Parsed `postqueue -j`: a list of dicts (queue_name, queue_id,
        arrival_time, message_size, recipients[...])."""
        r = self.postfix_cmd("postqueue", "-j", timeout=60)
        return [json.loads(l) for l in r.stdout.decode().splitlines() if l.strip()]

    def queue_counts(self):
        counts = {}
        for m in self.queue_json():
            counts[m["queue_name"]] = counts.get(m["queue_name"], 0) + 1
        return counts

    def wait_queue(self, expected, timeout=60):
        """Wait until queue_counts() has exactly the given counts for each
        queue named in `expected` (e.g. {'deferred': 7, 'hold': 3, 'active': 0})."""
        last = {}

        def ok():
            last.clear()
            last.update(self.queue_counts())
            return all(last.get(q, 0) == n for q, n in expected.items())
        try:
            wait_until(ok, timeout, "queue counts %s" % expected, interval=0.2)
        except LabError as e:
            raise LabError("%s; last counts %s\n--- mail.log ---\n%s" % (
                str(e).splitlines()[0], last, tail(self.postfix_log, 20))) from None
        return dict(last)

    def flush_queue(self, timeout=120):
        """Delete every queued message (postsuper -d ALL; 1.6-2.1 s for 10,000
        here, 12 s once under load)."""
        self.postfix_cmd("postsuper", "-d", "ALL", timeout=timeout)

    def fill_queue(self, n_deferred=0, n_held=0, size=1024, connections=4, timeout=300):
        """Inject messages over the fast listener 127.0.0.1:10025 with SMTP
        PIPELINING (end-of-data + next MAIL/RCPT/DATA in one write: one round
        trip per message).  Deferred ones go to n@defer.test, held ones carry
        an `X-Test-Hold:` header.  `size` is the approximate message size in
        bytes.  Returns {'sent': n, 'seconds': t, 'rate': msg/s}."""
        jobs = [("d", i) for i in range(n_deferred)] + [("h", i) for i in range(n_held)]
        if not jobs:
            return {"sent": 0, "seconds": 0.0, "rate": 0.0}
        connections = max(1, min(connections, len(jobs)))
        chunks = [jobs[i::connections] for i in range(connections)]
        errors = []
        t0 = time.monotonic()
        run_id = "%x" % int(time.time() * 1000)

        def worker(cn, chunk):
            try:
                _smtp_pipeline(self.ports["fill"], chunk, size, run_id, cn, timeout)
            except Exception as e:  # noqa: BLE001
                errors.append(e)
        threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(chunks)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout + 5)
        dt = time.monotonic() - t0
        if errors:
            raise LabError("fill_queue failed: %s\n--- mail.log ---\n%s" % (errors[0], tail(self.postfix_log, 20)))
        return {"sent": len(jobs), "seconds": dt, "rate": len(jobs) / dt if dt else 0.0}

    def send_mail(self, rcpt, subject="lab test", body="hello\n", port=None, mail_from=None,
                  headers=None, timeout=30):
        """Send one message with smtplib (default via the fast listener).
        Returns the Message-ID."""
        import smtplib
        from email.message import EmailMessage
        from email.utils import make_msgid, formatdate
        msg = EmailMessage()
        msg["From"] = mail_from or "sender@%s" % DOMAIN
        msg["To"] = rcpt
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain=DOMAIN)
        for k, v in (headers or {}).items():
            msg[k] = v
        msg.set_content(body)
        with smtplib.SMTP("127.0.0.1", port or self.ports["fill"], timeout=timeout,
                          local_hostname="client.example.test") as s:
            s.send_message(msg)
        return msg["Message-ID"]

    # ------------------------------------------------------------ log mix
    def wait_log_count(self, path, regex, n, timeout=30, what=None):
        """Waits until at least `n` lines of the file at `path` match `regex` (str or compiled);
        returns the matching lines."""
        rx = re.compile(regex) if isinstance(regex, str) else regex

        def lines():
            try:
                with open(path, errors="replace") as f:
                    hits = [l for l in f if rx.search(l)]
            except FileNotFoundError:
                return None
            return hits if len(hits) >= n else None
        return wait_until(lines, timeout, what or "%d line(s) matching %r in %s" % (n, rx.pattern, path),
                          interval=0.1, logs=[path])

    def _mix_smtp(self, port, tls, timeout):
        import smtplib
        s = smtplib.SMTP("127.0.0.1", port, timeout=timeout, local_hostname="client.example.test")
        s.ehlo()
        if tls:
            s._host = MAIL_HOST   # smtplib verifies the TLS server name against _host
            code, resp = s.starttls(context=self.ssl_context())
            if code != 220:
                raise LabError("STARTTLS on %d: %d %r" % (port, code, resp))
            s.ehlo()
        return s

    @staticmethod
    def _mix_auth(s, user, password):
        import base64
        token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()
        # one AUTH command: smtplib's login() would try PLAIN, then LOGIN (two failures per call)
        return s.docmd("AUTH", "PLAIN " + token)

    @staticmethod
    def _mix_message(mail_from, rcpt, mid, subject, body_bytes=200):
        from email.message import EmailMessage
        from email.utils import formatdate
        msg = EmailMessage()
        msg["From"] = mail_from
        msg["To"] = rcpt
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = mid
        msg.set_content(("log mix %s\n" % subject) + ("x" * 70 + "\n") * max(1, body_bytes // 71))
        return msg.as_bytes()

    def _mix_send(self, s, mail_from, rcpt, mid, subject, body_bytes=200):
        """MAIL, RCPT, DATA on an open session; returns the queue id from the 250 reply."""
        code, resp = s.mail(mail_from)
        if code != 250:
            raise LabError("MAIL FROM:<%s>: %d %r" % (mail_from, code, resp))
        code, resp = s.rcpt(rcpt)
        if code != 250:
            raise LabError("RCPT TO:<%s>: %d %r" % (rcpt, code, resp))
        code, resp = s.data(self._mix_message(mail_from, rcpt, mid, subject, body_bytes))
        m = re.search(rb"queued as ([0-9A-Za-z]+)", resp)
        if code != 250 or not m:
            raise LabError("DATA for %s: %d %r" % (rcpt, code, resp))
        return m.group(1).decode()

    def send_log_mix(self, n_sasl=3, m_unknown=2, k_sasl_fail=2, imap_wrong_password=1, imap_unknown_user=1,
                     timeout=60):
        """Sends the known traffic mix of the logs collector's integration test (issue 13) through the
        running stack and waits, by condition, until every outcome is logged.  Needs start_opendkim,
        start_postfix(lmtp=True), start_dovecot (LMTP + quota; auth_failure_delay="0" keeps it fast)
        and a closed PORTS["closed"]; starts the FakeSmtpPeer itself.  In order:

          1. n_sasl messages probe -> probe on 587 (STARTTLS, AUTH PLAIN): signed, delivered over LMTP
          2. one message on 587 (AUTH) to CLOSED_DOMAIN: smtp(8) gets Connection refused -> deferred
          3. one message on 587 (AUTH) to PEER_DOMAIN: the peer answers RCPT 550 5.7.1 "... blocked using
             zen.spamhaus.org" -> bounced; the notification to probe is delivered over LMTP
          4. one message on 25 (no AUTH) from probe to FULL_USER: LMTP 552 5.2.2 Quota exceeded ->
             bounced; the notification to probe is delivered over LMTP
          5. m_unknown sessions on 25, each one RCPT to an unknown example.test user (550 5.1.1)
          6. one session on 25 without AUTH: RCPT to another domain (554 5.7.1 Relay access denied)
          7. one session on 25 closed after EHLO without QUIT (lost connection after EHLO)
          8. k_sasl_fail sessions on 587: STARTTLS, one AUTH PLAIN with a wrong password (535)
          9. IMAP LOGIN failures on 143: imap_wrong_password for probe, imap_unknown_user for nobody@
         10. one IMAP login of probe on 143 that selects INBOX (n_sasl + 2 notifications in it) and logs out

        PITFALL: the SASL failures come after every successful AUTH: Dovecot's auth penalty delays each
        later auth request from 127.0.0.1 by 4, 8, then 15 s (see start_dovecot), and Postfix gives up
        after 10 s.  The IMAP clients (9, 10) each connect from their own 127.0.0.x (20, 21, ...), so
        no penalty applies to them (Dovecot logs rip=127.0.0.20 ...).

        Returns a dict: the counts above, message ids, queue ids and the seconds it took."""
        import imaplib
        if not self.lmtp_enabled or not self.pid("dovecot"):
            raise LabError("send_log_mix needs start_postfix(lmtp=True) and start_dovecot()")
        if k_sasl_fail > 2:
            # the third would wait 8 s for Dovecot's auth penalty, too close to Postfix's 10 s
            raise LabError("k_sasl_fail > 2: Dovecot's auth penalty would stall the third failed AUTH by 8 s")
        ensure_port_free(self.ports["closed"])
        self.start_smtp_peer()
        t0 = time.monotonic()
        run_id = "%x" % time.time_ns()
        plog, dlog = self.postfix_log, self.dovecot_log_file
        out = {"n_sasl": n_sasl, "m_unknown": m_unknown, "k_sasl_fail": k_sasl_fail,
               "imap_wrong_password": imap_wrong_password, "imap_unknown_user": imap_unknown_user,
               "message_ids": {}, "queue_ids": {}}

        def smtpd_settled():
            # every smtpd session logged its end ("disconnect from" follows "lost connection" too)
            with open(plog, errors="replace") as f:
                text = f.read()
            return len(re.findall(r"/smtpd\[\d+\]: connect from ", text)) == \
                len(re.findall(r"/smtpd\[\d+\]: disconnect from ", text))

        def submit(rcpt, tag, port=None, auth=True, body_bytes=200, mail_from=PROBE_USER):
            mid = "<mix-%s.%s@%s>" % (tag, run_id, DOMAIN)
            s = self._mix_smtp(port or self.ports["submission"], tls=auth, timeout=timeout)
            try:
                if auth:
                    code, resp = self._mix_auth(s, PROBE_USER, PROBE_PASSWORD)
                    if code != 235:
                        raise LabError("AUTH PLAIN %s: %d %r" % (PROBE_USER, code, resp))
                qid = self._mix_send(s, mail_from, rcpt, mid, "mix " + tag, body_bytes)
            finally:
                s.quit()
            out["message_ids"][tag] = mid
            out["queue_ids"][tag] = qid
            return mid, qid

        # 1. SASL submissions delivered over LMTP
        for i in range(n_sasl):
            mid, qid = submit(PROBE_USER, "sasl%d" % i)
            self.wait_log_count(dlog, r"msgid=%s: saved mail to INBOX" % re.escape(mid), 1, timeout)
            self.wait_log_count(plog, r": %s: removed$" % qid, 1, timeout)
        # 2. deferral: a closed port
        mid, qid = submit("someone@" + CLOSED_DOMAIN, "closed")
        self.wait_log_count(plog, r": %s: to=<.*status=deferred" % qid, 1, timeout)
        # 3. a peer that answers 550 (blocklisted), and the notification over LMTP
        mid, qid = submit("someone@" + PEER_DOMAIN, "peer")
        note = self.wait_log_count(plog, r": %s: sender non-delivery notification: " % qid, 1, timeout)
        note_qid = note[0].rsplit(" ", 1)[1].strip()
        out["queue_ids"]["peer_notification"] = note_qid
        self.wait_log_count(plog, r": %s: removed$" % qid, 1, timeout)
        self.wait_log_count(plog, r": %s: removed$" % note_qid, 1, timeout)
        # 4. a full mailbox, unauthenticated inbound mail on 25; the notification over LMTP
        mid, qid = submit(FULL_USER, "quota", port=self.ports["smtp"], auth=False, body_bytes=4000)
        note = self.wait_log_count(plog, r": %s: sender non-delivery notification: " % qid, 1, timeout)
        note_qid = note[0].rsplit(" ", 1)[1].strip()
        out["queue_ids"]["quota_notification"] = note_qid
        self.wait_log_count(plog, r": %s: removed$" % note_qid, 1, timeout)
        self.wait_log_count(dlog, r"Quota exceeded", 1, timeout)
        # 5. unknown recipients
        for i in range(m_unknown):
            s = self._mix_smtp(self.ports["smtp"], tls=False, timeout=timeout)
            try:
                s.mail("someone@outside.test")
                code, resp = s.rcpt("nobody%d@%s" % (i, DOMAIN))
                if code != 550:
                    raise LabError("unknown recipient: expected 550, got %d %r" % (code, resp))
            finally:
                s.quit()
        self.wait_log_count(plog, r"NOQUEUE: reject: RCPT from .*User unknown in virtual mailbox table",
                            m_unknown, timeout)
        # 6. an unauthenticated relay attempt
        s = self._mix_smtp(self.ports["smtp"], tls=False, timeout=timeout)
        try:
            s.mail("someone@outside.test")
            code, resp = s.rcpt("victim@elsewhere.test")
            if code != 554:
                raise LabError("relay attempt: expected 554, got %d %r" % (code, resp))
        finally:
            s.quit()
        self.wait_log_count(plog, r"Relay access denied", 1, timeout)
        # 7. lost connection after EHLO
        raw = socket.create_connection(("127.0.0.1", self.ports["smtp"]), timeout=timeout)
        f = raw.makefile("rb")
        try:
            _read_reply(f)
            raw.sendall(b"EHLO client.example.test\r\n")
            _read_reply(f)
        finally:
            f.close()     # PITFALL: the socket stays open while a makefile() object of it is open
            raw.close()
        self.wait_log_count(plog, r"lost connection after EHLO from ", 1, timeout)
        # 8. wrong passwords on 587, after every successful AUTH (see the docstring)
        for i in range(k_sasl_fail):
            s = self._mix_smtp(self.ports["submission"], tls=True, timeout=timeout)
            try:
                code, resp = self._mix_auth(s, PROBE_USER, "wrong-password-%d" % i)
                if code != 535:
                    raise LabError("wrong password: expected 535, got %d %r" % (code, resp))
            finally:
                s.quit()
        self.wait_log_count(plog, r"SASL PLAIN authentication failed", k_sasl_fail, timeout)
        self.wait_log_count(dlog, r"Password mismatch", k_sasl_fail, timeout)
        # 9. IMAP login failures; the login process logs the failure when the client leaves
        failures = [(PROBE_USER, "wrong-imap-password")] * imap_wrong_password + \
                   [("nobody@" + DOMAIN, "no-such-user")] * imap_unknown_user
        for i, (user, password) in enumerate(failures):
            m = _imap_from("127.0.0.%d" % (20 + i), self.ports["imap"], timeout, self.ssl_context())
            try:
                try:
                    m.login(user, password)
                    raise LabError("IMAP LOGIN %s with a wrong password succeeded" % user)
                except imaplib.IMAP4.error:
                    pass
            finally:
                m.logout()
        self.wait_log_count(dlog, r"imap-login: .*\(auth failed, ", len(failures), timeout)
        # 10. one IMAP login reading INBOX
        m = _imap_from("127.0.0.%d" % (20 + len(failures)), self.ports["imap"], timeout, self.ssl_context())
        try:
            m.login(PROBE_USER, PROBE_PASSWORD)
            typ, data = m.select("INBOX", readonly=True)
            out["inbox_messages"] = int(data[0])
        finally:
            m.logout()
        self.wait_log_count(dlog, r"imap\(%s\)<\d+><[^>]*>: (Info: )?Disconnected: Logged out" % re.escape(PROBE_USER),
                            1, timeout)
        if out["inbox_messages"] != n_sasl + 2:
            raise LabError("INBOX of %s holds %d messages, expected %d (%d submissions + 2 notifications)"
                           % (PROBE_USER, out["inbox_messages"], n_sasl + 2, n_sasl))
        wait_until(smtpd_settled, timeout, "every smtpd session to log its disconnect", logs=[plog])
        if self.postfix_syslog or self.dovecot_syslog:
            self.wait_syslog_flushed()
        out["seconds"] = time.monotonic() - t0
        return out

    def maildir(self, user="probe"):
        return os.path.join(self.vmail_dir, DOMAIN, user)

    def wait_maildir(self, needle, user="probe", timeout=30):
        """Wait until a file in the user's Maildir new/ or cur/ contains
        `needle` (str); returns its path.  (IMAP SELECT moves new/ -> cur/.)"""
        needle_b = needle.encode()

        def find():
            for sub in ("new", "cur"):
                d = os.path.join(self.maildir(user), sub)
                try:
                    names = os.listdir(d)
                except FileNotFoundError:
                    continue
                for n in names:
                    p = os.path.join(d, n)
                    try:
                        with open(p, "rb") as f:
                            if needle_b in f.read():
                                return p
                    except OSError:
                        pass
            return None
        return wait_until(find, timeout, "%r in %s" % (needle, self.maildir(user)),
                          interval=0.1, logs=[self.postfix_log])

    # --------------------------------------------------------------- Dovecot
    def start_dovecot(self, sieve=None, timeout=30, lmtp=None, syslog=False, auth_failure_delay=None):
        """Dovecot 2.3 standalone (no conf.d): IMAP 143/993, POP3 110/995,
        SASL socket for Postfix at <queue_directory>/private/auth.

        sieve: ManageSieve on 4190 (STARTTLS, RFC 5804).  None = only if
        dovecot-managesieved is installed; True = required (LabError naming
        the package if missing); False = off.
        lmtp: LMTP on the unix socket self.lmtp_socket (Postfix's virtual_transport with
        start_postfix(lmtp=True)) with the quota plugin: FULL_USER's quota is 1 byte, so every
        delivery to it fails with "552 5.2.2 ... Quota exceeded".  None = as start_postfix chose.
        syslog: log_path = syslog (facility mail, to /dev/log: start_rsyslog() first);
        self.dovecot_log_file names the file its lines end up in.
        auth_failure_delay: e.g. "0" (None = Dovecot's 2 secs).  PITFALL: besides delaying each failed
        login, Dovecot's auth penalty delays the NEXT auth request from the same IP by 4, 8, then 15 s
        (reset by a success, forgotten after 29 s) -- every lab client is 127.0.0.1, and Postfix's SASL
        client gives up after 10 s ("454 4.7.0 Temporary authentication failure: Connection lost to
        authentication server").  In 2.3.19, 0 turns off the failure delay but not the penalty (neither
        does login_trusted_networks); the penalty is per client IP, so IMAP clients can bind another
        127.0.0.x (Dovecot does no reverse DNS; Postfix's smtpd does, so SMTP clients cannot)."""
        if self.pid("dovecot"):
            return
        t0 = time.monotonic()
        require("dovecot", "doveconf", "openssl")
        if sieve is None:
            sieve = managesieve_available()
        elif sieve:
            require(MANAGESIEVE_LOGIN, MANAGESIEVE)
        if lmtp is None:
            lmtp = bool(self.lmtp_enabled)
        if lmtp:
            require("/usr/lib/dovecot/lmtp")
        if syslog and not DevLogListener._alive(DevLogListener.PATH):
            raise LabError("start_dovecot(syslog=True): nobody listens on /dev/log (start_rsyslog() first)")
        if not os.path.isdir(os.path.join(self.queue_directory, "private")):
            raise LabError("start_postfix() first: Dovecot's auth socket goes into "
                           "Postfix's %s/private (created by `postfix check`)" % self.queue_directory)
        port_keys = ("imap", "imaps", "pop3", "pop3s") + (("sieve",) if sieve else ())
        for k in port_keys:
            ensure_port_free(self.ports[k])
        self.ensure_server_cert()
        d = _mkdir(self.dovecot_dir, 0o755)
        base = _mkdir(os.path.join(d, "run"), 0o755)
        state = _mkdir(os.path.join(d, "state"), 0o750)
        _mkdir(self.vmail_dir, 0o755, VMAIL_UID, VMAIL_GID)
        pw = run(["openssl", "passwd", "-6", "-stdin"], input=PROBE_PASSWORD.encode()).stdout.decode().strip()
        users = os.path.join(d, "users")
        full_pw = run(["openssl", "passwd", "-6", "-stdin"], input=FULL_PASSWORD.encode()).stdout.decode().strip()
        # the quota rule is a userdb extra field; it means something only with the quota plugin (lmtp=True).
        # storage=1: one byte, or a KiB if the unit were KiB: every message exceeds it either way.
        _write(users, "%s:{SHA512-CRYPT}%s:%d:%d::%s::\n%s:{SHA512-CRYPT}%s:%d:%d::%s::userdb_quota_rule=*:storage=1\n" % (
            PROBE_USER, pw, VMAIL_UID, VMAIL_GID, self.maildir("probe"),
            FULL_USER, full_pw, VMAIL_UID, VMAIL_GID, self.maildir("full")), 0o640, 0, _ids("dovecot")[1])
        dh = "ssl_dh = </usr/share/dovecot/dh.pem\n" if os.path.exists("/usr/share/dovecot/dh.pem") else ""
        P = self.ports
        sieve_conf = ""
        if sieve:
            # Pigeonhole without conf.d: the managesieve/managesieve-login
            # services and the `sieve` protocol come with the package's
            # settings plugins; only the listener (the built-in default
            # service has none) and a script location are needed.  Scripts
            # live OUTSIDE the Maildir home (~/.dovecot.sieve would sit among
            # the Maildir++ folders); the managesieve process runs as vmail.
            _mkdir(self.sieve_dir, 0o755, VMAIL_UID, VMAIL_GID)
            sieve_conf = """\
service managesieve-login {{
  inet_listener sieve {{
    port = {port}
  }}
}}
protocol sieve {{
}}
plugin {{
  sieve = file:{sd}/%d/%n/scripts;active={sd}/%d/%n/active.sieve
}}
""".format(port=P["sieve"], sd=self.sieve_dir)
        lmtp_conf = ""
        if lmtp:
            # PITFALL: a plugin {} section repeated (the sieve one) is merged by doveconf, fine.
            lmtp_conf = """\
mail_plugins = $mail_plugins quota
plugin {{
  quota = count:User quota
  quota_vsizes = yes
}}
service lmtp {{
  unix_listener {sock} {{
    mode = 0600
    user = postfix
    group = postfix
  }}
}}
""".format(sock=self.lmtp_socket)
        # PITFALL: Dovecot's syslog ident is its instance_name ("mailstack-test: imap-login: ..."), so the
        # syslog run is instance "dovecot", as on a stock server ("dovecot: imap-login: ...")
        log_conf = ("instance_name = dovecot\nlog_path = syslog\nsyslog_facility = mail\n" if syslog
                    else "instance_name = mailstack-test\nlog_path = {0}\ninfo_log_path = {0}\n"
                    .format(self.dovecot_log))
        self.dovecot_syslog = bool(syslog)
        _write(self.dovecot_conf, """\
# standalone lab config (no conf.d)
base_dir = {base}
state_dir = {state}
{log_conf}protocols = imap pop3{lmtp_proto}{sieve_proto}
listen = 127.0.0.1
ssl = yes
ssl_cert = <{crt}
ssl_key = <{key}
{dh}auth_mechanisms = plain login
auth_verbose = yes
{afd}
mail_location = maildir:~
first_valid_uid = {uid}
passdb {{
  driver = passwd-file
  args = scheme=SHA512-CRYPT username_format=%u {users}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {users}
  default_fields = uid={uid} gid={gid} home={vmail}/%d/%n
}}
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = {pop3s}
    ssl = yes
  }}
}}
service auth {{
  unix_listener {sasl} {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}
""".format(base=base, state=state, log=self.dovecot_log, crt=self.server_crt, key=self.server_key,
           dh=dh, users=users, uid=VMAIL_UID, gid=VMAIL_GID, vmail=self.vmail_dir,
           sasl=self.sasl_socket, sieve_proto=" sieve" if sieve else "", log_conf=log_conf,
           lmtp_proto=" lmtp" if lmtp else "",
           afd="" if auth_failure_delay is None else "auth_failure_delay = %s\n" % auth_failure_delay,
           **P) + sieve_conf + lmtp_conf)
        r = run(["doveconf", "-c", self.dovecot_conf, "-n"], check=False)
        if r.returncode != 0:
            self._fail("doveconf check", [], r.stderr.decode(errors="replace"))
        self.sieve_enabled = bool(sieve)
        ports = [P[k] for k in port_keys]
        self.start_process("dovecot", ["dovecot", "-F", "-c", self.dovecot_conf],
                           logs=[self.dovecot_log_file], timeout=timeout,
                           ready=lambda: all(port_listening(p) for p in ports)
                           and os.path.exists(self.sasl_socket)
                           and (not lmtp or os.path.exists(self.lmtp_socket)))
        self._timed("start_dovecot", t0)

    def doveadm(self, *args, timeout=30):
        return run(["doveadm", "-c", self.dovecot_conf] + list(args), timeout=timeout)

    # ------------------------------------------------- certificate rotation
    @staticmethod
    def cert_file_der(path):
        """DER bytes of the (first) certificate in a PEM file (cert or key+cert)."""
        with open(path) as f:
            text = f.read()
        m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text, re.S)
        if not m:
            raise LabError("no certificate in %s" % path)
        return ssl.PEM_cert_to_DER_cert(m.group(0))

    @staticmethod
    def fingerprint(der):
        return hashlib.sha256(der).hexdigest()

    def served_cert_der(self, port, timeout=5):
        """DER of the certificate served on an implicit-TLS port (993, 995,
        465).  No verification: an expired or foreign cert is returned too."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            with ctx.wrap_socket(s, server_hostname=MAIL_HOST) as t:
                return t.getpeercert(binary_form=True)

    def rotate_server_cert(self, **issue_kwargs):
        """Issue a NEW server certificate (new key) from the lab CA and move it
        into place at self.server_key / self.server_crt (Dovecot) and
        self.server_pem (Postfix) by rename(2) -- nothing is reloaded.

        Postfix picks it up as its smtpd processes are replaced; Dovecot keeps
        serving the old one until reload_dovecot().  issue_kwargs go to
        issue_cert() (cn, sans, not_before, not_after, bits).  Returns the
        SHA-256 fingerprint (hex) of the new certificate's DER."""
        self.ensure_server_cert()
        self._rotation = getattr(self, "_rotation", 0) + 1
        # issue under a scratch name: issue_cert("server") would rewrite
        # server.key and server.crt in place, one after the other (a reload in
        # between would load a key that does not match the cert)
        new = self.issue_cert("server-rot%d" % self._rotation, **issue_kwargs)
        os.rename(new["key"], self.server_key)
        os.rename(new["crt"], self.server_crt)
        os.rename(new["pem"], self.server_pem)
        for ext in (".csr", ".ext"):
            try:
                os.unlink(os.path.join(self.pki_dir, "server-rot%d%s" % (self._rotation, ext)))
            except FileNotFoundError:
                pass
        return self.fingerprint(self.cert_file_der(self.server_crt))

    rotate_dovecot_cert = rotate_server_cert

    def reload_dovecot(self, port=None, timeout=20):
        """`doveadm reload`, then wait until the certificate served on 993
        (or `port`) is the one in self.server_crt.  Returns the seconds from
        the reload command to the first handshake with the new cert."""
        if not self.pid("dovecot"):
            raise LabError("start_dovecot() first")
        port = port or self.ports["imaps"]
        want = self.cert_file_der(self.server_crt)
        t0 = time.monotonic()
        self.doveadm("reload")
        wait_until(lambda: self.served_cert_der(port) == want, timeout,
                   "Dovecot to serve %s on port %d after reload (sha256 %s)"
                   % (self.server_crt, port, self.fingerprint(want)),
                   interval=0.02, logs=[self.dovecot_log])
        self._timed("reload_dovecot", t0)
        return self.timings["reload_dovecot"]

    # -------------------------------------------------------------- OpenDKIM
    def ensure_dkim_key(self):
        """opendkim-genkey -b 2048 -d example.test -s mail, owned by opendkim,
        mode 600 in a 700 directory (RequireSafeKeys).  Idempotent."""
        if os.path.exists(self.dkim_key_file):
            return
        uid, gid = _ids("opendkim")
        _mkdir(self.opendkim_dir, 0o755, 0, 0)
        _mkdir(self.dkim_key_dir, 0o700, uid, gid)
        run(["opendkim-genkey", "-b", "2048", "-d", DOMAIN, "-s", "mail", "-D", self.dkim_key_dir])
        os.chown(self.dkim_key_file, uid, gid)
        os.chmod(self.dkim_key_file, 0o600)
        os.chmod(self.dkim_txt_file, 0o644)

    def start_opendkim(self, internal_hosts=None, timeout=20):
        """opendkim -f -x conf on inet:8891@127.0.0.1, signing d=example.test
        s=mail.  internal_hosts: None = OpenDKIM's default (127.0.0.1: all
        lab mail is signed); [] = only SMTP-AUTH mail is signed."""
        if self.pid("opendkim"):
            return
        t0 = time.monotonic()
        require("opendkim", "opendkim-genkey", "openssl")
        ensure_port_free(self.ports["milter"])
        self.ensure_dkim_key()
        # PITFALL: OpenDKIM only logs via syslog(3) -> provide /dev/log if missing (not when our
        # rsyslog, or any other syslog daemon, owns it: DevLogListener.start() leaves a live one alone)
        log = self.syslog_maillog if self.pid("rsyslog") else self.maillog
        if log == self.maillog:
            open(self.maillog, "a").close()
        if self._devlog is None and not self.pid("rsyslog"):
            self._devlog = DevLogListener(self.maillog)
            self._devlog.start()
        extra = ""
        if internal_hosts is not None:
            ih = os.path.join(self.opendkim_dir, "internal_hosts")
            _write(ih, "".join(h + "\n" for h in internal_hosts))
            extra += "InternalHosts %s\n" % ih
        # PITFALL: no ResolverConfiguration (crashes with >1 concurrent session,
        # and cannot be pointed at a non-53 port).
        _write(self.opendkim_conf, """\
Syslog yes
SyslogSuccess yes
LogWhy yes
UMask 007
Mode sv
Canonicalization relaxed/simple
Domain {dom}
Selector mail
KeyFile {key}
Socket inet:{port}@127.0.0.1
UserID opendkim:opendkim
RequireSafeKeys yes
OversignHeaders From
On-DNSError accept
{extra}""".format(dom=DOMAIN, key=self.dkim_key_file, port=self.ports["milter"], extra=extra))
        # PITFALL: OpenDKIM acts on SIGTERM only at the next tick of a 5 s
        # loop (measured 2.3-4.7 s to exit); nothing to save in the lab, so
        # it gets SIGKILL after 1 s instead of stretching every teardown.
        self.start_process("opendkim", ["opendkim", "-f", "-x", self.opendkim_conf],
                           logs=[log], timeout=timeout, stop_grace=1.0,
                           ready=lambda: port_listening(self.ports["milter"]))
        self._timed("start_opendkim", t0)

    # --------------------------------------------------------------- rsyslog
    def start_rsyslog(self, timeout=20):
        """A real rsyslogd in the foreground (`rsyslogd -n -f conf -i pidfile`) owning /dev/log
        (imuxsock's system socket), writing mail.* in Debian's traditional format
        (RSYSLOG_TraditionalFileFormat: "Dec  4 02:10:55 host prog[pid]: msg") to self.syslog_maillog
        and everything else to self.syslog_other.  Then Postfix without maillog_file
        (start_postfix(syslog=True)), Dovecot with log_path = syslog (start_dovecot(syslog=True)) and
        OpenDKIM log there.

        /dev/log has one owner: our DevLogListener (start_opendkim without rsyslog) hands it over
        (daemons connected to it reconnect on their next syslog(3) call: glibc retries a failed
        send once after reopening); a live foreign listener (a real syslog daemon) is an error, not
        something to replace.  stop_rsyslog() (and stop_all) removes /dev/log again."""
        if self.pid("rsyslog"):
            return
        t0 = time.monotonic()
        require("rsyslogd")
        if self._devlog is not None and self._devlog.owned:
            self._devlog.stop()
            self._devlog = None
        path = DevLogListener.PATH
        if os.path.exists(path):
            if DevLogListener._alive(path):
                raise LabError("%s belongs to a running syslog daemon (not this lab's): stop it or run the "
                               "rsyslog tests elsewhere" % path)
            os.unlink(path)   # a dead socket left by a crashed run
        d = _mkdir(self.rsyslog_dir, 0o755)
        _mkdir(os.path.dirname(self.syslog_maillog), 0o755)
        # RateLimit.Interval 0: imuxsock's per-process rate limit would drop lines of a busy daemon.
        # Unlink on: rsyslogd removes /dev/log when it exits.
        _write(self.rsyslog_conf, """\
# lab rsyslog: Debian's traditional file format, mail.* in one file
global(workDirectory="{d}")
module(load="imuxsock" SysSock.Use="on" SysSock.Name="{sock}" SysSock.Unlink="on"
       SysSock.RateLimit.Interval="0" SysSock.Annotate="off")
module(load="builtin:omfile" Template="RSYSLOG_TraditionalFileFormat")
mail.*                  action(type="omfile" file="{mail}")
*.*;mail.none           action(type="omfile" file="{other}")
""".format(d=d, sock=path, mail=self.syslog_maillog, other=self.syslog_other))
        r = run(["rsyslogd", "-N1", "-f", self.rsyslog_conf], check=False)
        if r.returncode != 0:
            self._fail("rsyslogd -N1 (config check)", [], (r.stdout + r.stderr).decode(errors="replace"))
        try:
            os.unlink(self.rsyslog_pidfile)
        except FileNotFoundError:
            pass
        open(self.syslog_other, "a").close()

        def ready():
            # its own "[origin software="rsyslogd" ...] start" (facility syslog) is written once the
            # inputs run; /dev/log is bound before that
            with open(self.syslog_other) as f:
                return '] start' in f.read() and DevLogListener._alive(path)
        self.start_process("rsyslog", ["rsyslogd", "-n", "-f", self.rsyslog_conf, "-i", self.rsyslog_pidfile],
                           logs=[self.syslog_other], timeout=timeout, ready=ready)
        self._timed("start_rsyslog", t0)

    def stop_rsyslog(self):
        """Stop rsyslogd (it flushes its files on SIGTERM) and make sure /dev/log is gone."""
        self.stop_process("rsyslog")
        self._remove_dead_devlog()

    @staticmethod
    def _remove_dead_devlog():
        path = DevLogListener.PATH
        if os.path.exists(path) and not DevLogListener._alive(path):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def wait_syslog_flushed(self, timeout=20):
        """Waits until rsyslog has written everything sent to /dev/log before this call: sends a
        user.info marker (it goes to syslog_other, not to mail.log) and waits for it.  imuxsock
        handles one socket in order, and the queue writes in order, so mail lines sent earlier are
        in mail.log by then."""
        if not self.pid("rsyslog"):
            raise LabError("start_rsyslog() first")
        marker = "lab-flush-%d" % time.monotonic_ns()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            s.sendto(("<14>lab-marker: %s" % marker).encode(), DevLogListener.PATH)
        finally:
            s.close()

        def seen():
            with open(self.syslog_other) as f:
                return marker in f.read()
        wait_until(seen, timeout, "rsyslog to write its flush marker", interval=0.05, logs=[self.syslog_other])

    # ------------------------------------------------------- fake SMTP peer
    def start_smtp_peer(self, rcpt_reply=None):
        """A fake remote MX on 127.0.0.1:PORTS["peer"] (mail for PEER_DOMAIN is routed to it) that
        answers every RCPT with `rcpt_reply` (default: a blocklist rejection, as a big provider
        sends it).  A thread of this process; stop_all stops it."""
        if self._peer is not None:
            return self._peer
        ensure_port_free(self.ports["peer"])
        self._peer = FakeSmtpPeer(self.ports["peer"], rcpt_reply or FakeSmtpPeer.BLOCKED_REPLY)
        self._peer.start()
        return self._peer

    def stop_smtp_peer(self):
        if self._peer is not None:
            self._peer.stop()
            self._peer = None

    # ------------------------------------------------------------------- nsd
    def dkim_txt_record(self):
        """The opendkim-genkey .txt as zone text.  PITFALL: it contains ';'
        inside the quoted string, so strip ONLY the trailing comment after
        the closing parenthesis."""
        self.ensure_dkim_key()
        with open(self.dkim_txt_file) as f:
            txt = f.read()
        i = txt.rindex(")")
        return txt[:i + 1] + "\n"

    def dkim_public_key_b64(self):
        """Base64 SubjectPublicKeyInfo of the key file (compare with DNS p=)."""
        r = run(["openssl", "pkey", "-in", self.dkim_key_file, "-pubout"])
        return "".join(l for l in r.stdout.decode().splitlines() if not l.startswith("-----"))

    def default_zones(self):
        """Zone name -> records (no SOA/NS needed: added automatically)."""
        return {
            DOMAIN: """\
@               A       127.0.0.1
mail            A       127.0.0.1
@               MX      10 mail.example.test.
@               TXT     "v=spf1 ip4:127.0.0.1 -all"
_dmarc          TXT     "v=DMARC1; p=reject; rua=mailto:dmarc@example.test"
_mta-sts        TXT     "v=STSv1; id=20240101000000"
mta-sts         A       127.0.0.1
_smtp._tls      TXT     "v=TLSRPTv1; rua=mailto:tlsrpt@example.test"
""" + self.dkim_txt_record(),
            # one zone for all of 127/8 so tests can add PTRs for other hosts
            "127.in-addr.arpa": """\
1.0.0           PTR     mail.example.test.
2.0.0           PTR     mismatch.broken.test.
""",
            "broken.test": """\
; missing _dmarc, invalid SPF, MX naming another host, truncated DKIM key
@               A       127.0.0.1
@               MX      10 mx.elsewhere.test.
mismatch        A       127.0.0.9
@               TXT     "v=spf1 ip4:127.0.0.256 +foo ~al"
mail._domainkey TXT     "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtrunc"
""",
            # RFC 5782 test entries; 127.255.255.254 = "error/refused" answer
            "bl.test": """\
2.0.0.127       A       127.0.0.2
2.0.0.127       TXT     "listed in bl.test (lab fixture)"
1.0.0.127       A       127.255.255.254
""",
        }

    def _zone_text(self, name, body):
        if re.search(r"\sSOA\s", body):
            return body
        return ("$ORIGIN {n}.\n$TTL 60\n"
                "@ IN SOA ns.{n}. hostmaster.{n}. ( {s} 3600 600 86400 60 )\n"
                "@ IN NS ns.{n}.\n{body}").format(n=name, s=self._zone_serial, body=body)

    def _write_zones(self, zones):
        _mkdir(self.nsd_zones_dir, 0o755)
        self._zone_serial += 1
        for name, body in zones.items():
            path = os.path.join(self.nsd_zones_dir, name + ".zone")
            old = os.stat(path).st_mtime_ns if os.path.exists(path) else 0
            _write(path, self._zone_text(name, body))
            # PITFALL: nsd reloads on SIGHUP only zone files whose mtime
            # changed; two writes within one timestamp tick look unchanged.
            new = max(time.time_ns(), old + 1_000_000_000)
            os.utime(path, ns=(new, new))
            r = run(["nsd-checkzone", name, path], check=False)
            if r.returncode != 0:
                raise LabError("nsd-checkzone %s failed:\n%s%s" % (
                    name, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")))
        self.zones = dict(zones)

    def _write_nsd_conf(self):
        d = self.nsd_dir
        conf = """\
server:
  ip-address: 127.0.0.1@{port}
  do-ip4: yes
  do-ip6: no
  database: ""
  username: ""
  chroot: ""
  pidfile: {d}/nsd.pid
  zonelistfile: {d}/zone.list
  xfrdfile: {d}/xfrd.state
  xfrdir: {d}
  cookie-secret-file: {d}/cookiesecrets.txt
  logfile: {log}
  zonesdir: {zd}
  server-count: 1
  verbosity: 1
  hide-version: yes
remote-control:
  control-enable: no
""".format(port=self.ports["dns"], d=d, log=self.nsd_log, zd=self.nsd_zones_dir)
        for name in sorted(self.zones):
            conf += "zone:\n  name: %s\n  zonefile: %s.zone\n" % (name, name)
        _write(self.nsd_conf, conf)
        r = run(["nsd-checkconf", self.nsd_conf], check=False)
        if r.returncode != 0:
            raise LabError("nsd-checkconf failed:\n%s%s" % (r.stdout.decode(errors="replace"),
                                                           r.stderr.decode(errors="replace")))

    def dig(self, *args, timeout=5):
        """dig @127.0.0.1 -p 5353 +short ARGS -> list of answer lines."""
        r = run(["dig", "@127.0.0.1", "-p", str(self.ports["dns"]), "+short", "+time=1",
                 "+tries=1"] + list(args), timeout=timeout, check=False)
        return [l for l in r.stdout.decode().splitlines() if l and not l.startswith(";")]

    def _zones_served(self):
        serial = str(self._zone_serial)
        for name, body in self.zones.items():
            if re.search(r"\sSOA\s", body):
                if not self.dig("SOA", name):
                    return False
            else:
                soa = self.dig("SOA", name)
                if not soa or soa[0].split()[2] != serial:
                    return False
        return True

    def start_nsd(self, zones=None, timeout=20):
        """nsd -d on 127.0.0.1@5353 with `zones` (default default_zones())."""
        if self.pid("nsd"):
            return
        t0 = time.monotonic()
        require("nsd", "nsd-checkconf", "nsd-checkzone", "dig", "opendkim-genkey")
        ensure_port_free(self.ports["dns"], "tcp")
        ensure_port_free(self.ports["dns"], "udp")
        _mkdir(self.nsd_dir, 0o755)
        self._write_zones(zones if zones is not None else self.zones or self.default_zones())
        self._write_nsd_conf()
        self.start_process("nsd", ["nsd", "-d", "-c", self.nsd_conf], logs=[self.nsd_log],
                           timeout=timeout, ready=self._zones_served)
        self._timed("start_nsd", t0)

    def reload_nsd(self, zones=None, timeout=20):
        """Rewrite zones (dict name -> records, default: current) and make
        nsd serve them: SIGHUP if the zone set is unchanged, else a restart
        (SIGHUP does not re-read nsd.conf).  Waits for the new SOA serials."""
        zones = dict(zones if zones is not None else self.zones)
        same_set = set(zones) == set(self.zones or {})
        self._write_zones(zones)
        if same_set and self.pid("nsd"):
            os.kill(self.pid("nsd"), signal.SIGHUP)
            wait_until(self._zones_served, timeout, "nsd to serve reloaded zones", interval=0.1,
                       logs=[self.nsd_log])
        else:
            self.stop_process("nsd")
            self.start_nsd(zones, timeout=timeout)

    # ------------------------------------------------------------ Prometheus
    def start_prometheus(self, scrape_targets, rule_files=(), port=None, extra_args=(),
                         scrape_timeout="1s", timeout=60):
        """Prometheus with 1 s scrape/evaluation interval, job `mailstack`,
        static `scrape_targets` ("host:port" strings) and `rule_files`."""
        if self.pid("prometheus"):
            return
        t0 = time.monotonic()
        require("prometheus", "promtool")
        # PITFALL: rule_files entries are globs -- a missing file silently
        # loads no rules.  Check existence and syntax (promtool) up front.
        rule_files = [os.path.abspath(r) for r in rule_files]
        for r in rule_files:
            if not os.path.isfile(r):
                raise LabError("rule file %s does not exist" % r)
        if rule_files:
            res = run(["promtool", "check", "rules"] + rule_files, check=False)
            if res.returncode != 0:
                raise LabError("promtool check rules failed:\n%s%s" % (
                    res.stdout.decode(errors="replace"), res.stderr.decode(errors="replace")))
        self.prom_port = port or free_port()
        ensure_port_free(self.prom_port)
        _mkdir(self.prom_dir, 0o755)
        shutil.rmtree(self.prom_data, ignore_errors=True)   # no stale TSDB
        cfg = os.path.join(self.prom_dir, "prometheus.yml")
        # JSON is YAML: no yaml module needed
        _write(cfg, json.dumps({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s",
                       "scrape_timeout": scrape_timeout},
            "rule_files": rule_files,
            "scrape_configs": [{"job_name": "mailstack",
                                "static_configs": [{"targets": list(scrape_targets)}]}],
        }, indent=2) + "\n")
        self.prom_url = "http://127.0.0.1:%d" % self.prom_port
        self.start_process("prometheus", [
            "prometheus", "--config.file", cfg, "--storage.tsdb.path", self.prom_data,
            "--web.listen-address", "127.0.0.1:%d" % self.prom_port, "--web.enable-lifecycle",
        ] + list(extra_args), cwd=self.prom_dir, timeout=timeout,
            ready=lambda: _http_get(self.prom_url + "/-/ready", 1)[0] == 200)
        self._timed("start_prometheus", t0)

    def prom_query(self, expr, timeout=10):
        """Instant query; returns data.result (list).  Raises LabError with
        Prometheus' error text on a bad expression or API error."""
        if not self.prom_url:
            raise LabError("start_prometheus() first")
        url = self.prom_url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        status, body = _http_get(url, timeout)
        try:
            doc = json.loads(body)
        except ValueError:
            raise LabError("prometheus query %r: HTTP %d, non-JSON body %r" % (expr, status, body[:300]))
        if doc.get("status") != "success":
            raise LabError("prometheus query %r failed (HTTP %d): %s: %s" % (
                expr, status, doc.get("errorType"), doc.get("error")))
        return doc["data"]["result"]

    def prom_reload(self):
        status, body = _http_post(self.prom_url + "/-/reload", 10)
        if status != 200:
            raise LabError("prometheus reload failed: HTTP %d %s" % (status, body[:300]))

    def wait_for(self, expr, predicate=lambda r: len(r) > 0, timeout=30, interval=0.25):
        """Poll prom_query(expr) until predicate(result) is true; returns the
        result.  API errors are retried (series may not exist yet) and the
        last one is reported on timeout."""
        last = {"result": None, "error": None}

        def check():
            try:
                last["result"] = self.prom_query(expr)
                last["error"] = None
            except LabError as e:
                last["error"] = str(e)
                return None
            return bool(predicate(last["result"]))
        try:
            wait_until(check, timeout, "PromQL %r to satisfy predicate" % expr, interval=interval)
        except LabError:
            raise LabError("timed out after %ss waiting for PromQL %r; last result %r, last error %r"
                           % (timeout, expr, last["result"], last["error"])) from None
        return last["result"]

    # ------------------------------------------------------------------ stop
    def stop_all(self, timeout=10):
        """Stop everything this Lab started, by PID: SIGTERM to all at once
        (plus `postfix stop`), wait up to `timeout` s, then SIGKILL what is
        left (also their process groups); remove the /dev/log shim; finally
        kill anything else still running out of the lab root.

        Stopping in parallel matters: OpenDKIM alone needs ~2.3 s to exit on
        SIGTERM, Dovecot ~1 s, `postfix stop` ~1 s."""
        t0 = time.monotonic()
        errors = []
        procs = list(self.procs.items())
        self.procs.clear()
        for name, p in procs:
            if p.poll() is None:
                try:
                    p.terminate()
                except ProcessLookupError:
                    pass
        pf_stop = None
        pf_master = self._postfix_master_pid()
        if pf_master or self._postfix_running:
            pf_stop = subprocess.Popen(["postfix", "-c", self.config_dir, "stop"],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        pending = dict(procs)
        while pending:
            now = time.monotonic()
            for name, p in list(pending.items()):
                if p.poll() is not None:      # poll() also reaps our child
                    self.timings["stopped_" + name] = now - t0
                    del pending[name]
                elif now >= min(deadline, t0 + self.stop_grace.get(name, timeout)):
                    # grace over: SIGKILL the daemon and its process group
                    if self.stop_grace.get(name, timeout) >= timeout:
                        errors.append("%s (pid %d) ignored SIGTERM for %ss, killed"
                                      % (name, p.pid, timeout))
                    self._killpg_leftovers(p.pid)
                    try:
                        p.wait(5)
                    except subprocess.TimeoutExpired:
                        errors.append("%s (pid %d) survived SIGKILL" % (name, p.pid))
                    self.timings["killed_" + name] = time.monotonic() - t0
                    del pending[name]
            time.sleep(0.02)
        for name, p in procs:
            self._killpg_leftovers(p.pid)   # children that outlived their parent
        if pf_stop is not None:
            try:
                pf_stop.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pf_stop.kill()
                pf_stop.wait()
            # master is re-parented to PID 1: poll /proc state, not kill -0
            while pf_master and pid_alive(pf_master) and time.monotonic() < deadline:
                time.sleep(0.05)
            try:
                self._postfix_kill_leftovers(pf_master)
            except LabError as e:  # reported below, after the rest is stopped too
                errors.append(str(e))
            self._postfix_running = False
            self.timings["stopped_postfix"] = time.monotonic() - t0
        if self._devlog is not None:
            self._devlog.stop()
            self._devlog = None
        if self._peer is not None:
            self._peer.stop()
            self._peer = None
        self._remove_dead_devlog()   # rsyslogd unlinks it on SIGTERM, not after SIGKILL
        # anything still referring to the root (daemons' grandchildren)
        self._kill_stale()
        self._timed("stop_all", t0)
        if errors:
            raise LabError("stop_all: " + "; ".join(errors))


# --------------------------------------------------------------------------
# SIGTERM: atexit handlers do not run when the test runner is terminated by
# a signal (e.g. a CI timeout), so stop the labs first, then die as asked.
# --------------------------------------------------------------------------

_LABS = []


def _on_sigterm(signum, frame):
    for lab in list(_LABS):
        try:
            lab.stop_all()
        except Exception:  # noqa: BLE001
            pass
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _install_sigterm_handler(lab):
    _LABS.append(lab)
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _on_sigterm)


# --------------------------------------------------------------------------
# HTTP (no proxies: *_proxy env vars must not capture 127.0.0.1)
# --------------------------------------------------------------------------

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _http(req, timeout):
    try:
        with _opener.open(req, timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as e:
        return 0, str(e)


def _http_get(url, timeout):
    return _http(urllib.request.Request(url), timeout)


def _http_post(url, timeout, data=b""):
    return _http(urllib.request.Request(url, data=data, method="POST"), timeout)


def _imap_from(source_ip, port, timeout, ssl_context):
    """imaplib.IMAP4 to 127.0.0.1:port from `source_ip` (another loopback address), after STARTTLS:
    Dovecot counts only a client with rip == lip as secured, so without TLS LOGIN is refused
    ("Plaintext authentication disallowed")."""
    import imaplib

    class IMAP4From(imaplib.IMAP4):
        def _create_socket(self, timeout):
            return socket.create_connection((self.host, self.port), timeout, source_address=(source_ip, 0))
    m = IMAP4From("127.0.0.1", port, timeout=timeout)
    m.host = MAIL_HOST   # the TLS server name imaplib checks
    m.starttls(ssl_context=ssl_context)
    return m


# --------------------------------------------------------------------------
# pipelined SMTP injector
# --------------------------------------------------------------------------

def _read_reply(f):
    lines = []
    while True:
        line = f.readline()
        if not line:
            raise LabError("SMTP connection closed; got %r" % lines)
        lines.append(line.decode(errors="replace").rstrip())
        if len(line) < 4 or line[3:4] != b"-":
            return int(lines[-1][:3]), "\n".join(lines)


def _smtp_pipeline(port, chunk, size, run_id, cn, timeout):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = s.makefile("rb")
        code, text = _read_reply(f)
        if code != 220:
            raise LabError("greeting: %s" % text)
        s.sendall(b"EHLO filler.example.test\r\n")
        code, text = _read_reply(f)
        if code != 250 or "PIPELINING" not in text:
            raise LabError("EHLO: %s" % text)
        pad_line = b"x" * 76 + b"\r\n"

        def envelope(kind, i):
            rcpt = "fill-%s-%d@defer.test" % (kind, i)
            return ("MAIL FROM:<filler@example.test>\r\nRCPT TO:<%s>\r\nDATA\r\n" % rcpt).encode()

        def content(kind, i):
            mid = "<%s.%d.%s%d@example.test>" % (run_id, cn, kind, i)
            hdr = ("From: filler@example.test\r\nTo: fill-%s-%d@defer.test\r\n"
                   "Subject: lab fill %s %d\r\nMessage-ID: %s\r\n" % (kind, i, kind, i, mid))
            if kind == "h":
                hdr += "X-Test-Hold: yes\r\n"
            hdr = hdr.encode() + b"\r\n"
            n = max(1, (size - len(hdr)) // len(pad_line))
            return hdr + pad_line * n + b".\r\n"

        # first envelope alone, then [content_k + envelope_{k+1}] per write
        s.sendall(envelope(*chunk[0]))
        for k, job in enumerate(chunk):
            for expect in (250, 250, 354):
                code, text = _read_reply(f)
                if code != expect:
                    raise LabError("message %s: expected %d, got %s" % (job, expect, text))
            out = content(*job)
            if k + 1 < len(chunk):
                out += envelope(*chunk[k + 1])
            s.sendall(out)
            code, text = _read_reply(f)
            if code != 250:
                raise LabError("end of data for %s: %s" % (job, text))
        s.sendall(b"QUIT\r\n")
        try:
            _read_reply(f)
        except (LabError, OSError):
            pass
    finally:
        s.close()
