#include "collectors/services_collector.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>

#include "tests/support/option_errors.h"
#include "tests/support/samples.h"

namespace mailstack {
namespace {

std::map<std::string, double> Samples(ServicesCollector& c, Status* status) {
  std::atomic<bool> stop{false};
  CollectContext ctx{Deadline::After(std::chrono::seconds(5)), &stop};
  MetricSink sink(c.Describe());
  *status = c.Collect(ctx, sink);
  return testing::FlatSamples(testing::TakeChecked(sink));
}

class FakeProc {
 public:
  FakeProc() : root_(::testing::TempDir() + "/proc" + std::to_string(::getpid())) {
    std::system(("rm -rf " + root_).c_str());
    ::mkdir(root_.c_str(), 0755);
  }
  ~FakeProc() { std::system(("rm -rf " + root_).c_str()); }
  void Add(int pid, const std::string& comm, char state) {
    std::string dir = root_ + "/" + std::to_string(pid);
    ::mkdir(dir.c_str(), 0755);
    FILE* f = std::fopen((dir + "/stat").c_str(), "w");
    std::fprintf(f, "%d (%s) %c 1 %d %d 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 100 1000 100\n", pid, comm.c_str(),
                 state, pid, pid);
    std::fclose(f);
  }
  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

TEST(ServicesCollectorTest, ProcessChecksCountLiveProcessesByComm) {
  FakeProc proc;
  proc.Add(100, "master", 'S');
  proc.Add(200, "dovecot", 'S');
  proc.Add(201, "dovecot", 'R');
  proc.Add(300, "opendkim", 'Z');                  // a zombie does not count
  proc.Add(400, "evil) S (master", 'S');           // comm with parentheses and spaces
  ::mkdir((proc.root() + "/self").c_str(), 0755);  // non-pid entries are skipped
  ServicesCollector::Options o;
  o.processes = {
      {"postfix", "master"}, {"dovecot", "dovecot"}, {"opendkim", "opendkim"}, {"tricky", "evil) S (master"}};
  o.proc_root = proc.root();
  ServicesCollector c(o);
  Status s;
  auto m = Samples(c, &s);
  EXPECT_TRUE(s.ok()) << s.message();  // no units configured: no bus needed
  EXPECT_EQ(m["mailstack_service_up,unit=postfix"], 1);
  EXPECT_EQ(m["mailstack_service_processes,unit=postfix"], 1);
  EXPECT_EQ(m["mailstack_service_up,unit=dovecot"], 1);
  EXPECT_EQ(m["mailstack_service_processes,unit=dovecot"], 2);
  EXPECT_EQ(m["mailstack_service_up,unit=opendkim"], 0);
  EXPECT_EQ(m["mailstack_service_processes,unit=opendkim"], 0);
  EXPECT_EQ(m["mailstack_service_up,unit=tricky"], 1);
}

TEST(ServicesCollectorTest, NoSystemBusFailsTheRunWithAClearReason) {
  ::setenv("DBUS_SYSTEM_BUS_ADDRESS", ("unix:path=" + ::testing::TempDir() + "/no-such-bus.sock").c_str(), 1);
  ServicesCollector::Options o;
  o.units = {"postfix.service"};
  o.processes = {{"init", "no-such-process"}};
  ServicesCollector c(o);
  Status s;
  auto m = Samples(c, &s);
  ::unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(),
            "cannot connect to the system bus: No such file or directory (no systemd here? use services.processes)");
  EXPECT_EQ(m.count("mailstack_service_up,unit=postfix.service"), 0u);
  EXPECT_EQ(m["mailstack_service_up,unit=init"], 0);  // process checks still reported
}

TEST(ServicesCollectorTest, OptionErrors) {
  testing::ExpectOptionErrors<ServicesCollector>({
      {"units: postfix.service", "t.yml:1:8: units: must be a list of strings (got a scalar \"postfix.service\")"},
      {"units: [postfix]", "t.yml:1:9: units[0]: must be a unit name like postfix.service (got \"postfix\")"},
      {"units: [a.service, a.service]", "t.yml:1:20: units[1]: duplicate unit \"a.service\""},
      {"processes: [master]", "t.yml:1:12: processes: must be a map of strings (got a list)"},
      {"processes: {postfix: averyveryverylongname}",
       "t.yml:1:22: processes.postfix: process names are at most 15 characters (the kernel's comm; got "
       "\"averyveryverylongname\")"},
      {"unit: [a.service]", "t.yml:1:1: unit: unknown key (allowed: units, processes)"},
  });
}

}  // namespace
}  // namespace mailstack
