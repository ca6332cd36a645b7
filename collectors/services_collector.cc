#include "collectors/services_collector.h"

#include <dirent.h>
#include <fcntl.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "collectors/core/logging.h"

namespace mailstack {
namespace {

constexpr GaugeFamily<1> kUp{"mailstack_service_up",
                             "1 if the unit is active (or a process of the check runs), 0 otherwise.", "unit"};
constexpr StateSetFamily<2> kState{"mailstack_service_state", "systemd ActiveState of the unit (state set).", "unit",
                                   "state"};
constexpr StateSetFamily<2> kLoadState{"mailstack_service_load_state",
                                       "systemd LoadState of the unit (state set); not-found means no such unit.",
                                       "unit", "state"};
constexpr CounterFamily<1> kRestarts{"mailstack_service_restarts_total",
                                     "Automatic restarts of the service by systemd (NRestarts).", "unit"};
constexpr GaugeFamily<1> kProcesses{"mailstack_service_processes",
                                    "Running (non-zombie) processes with the check's process name.", "unit"};

const std::vector<std::string_view> kActiveStates = {"active", "reloading",  "inactive",
                                                     "failed", "activating", "deactivating"};
const std::vector<std::string_view> kLoadStates = {"loaded", "not-found", "bad-setting", "error", "masked"};

constexpr char kSystemd[] = "org.freedesktop.systemd1";

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Errors that mean the connection is gone (systemd or the bus restarted).
bool ConnectionLost(int r) {
  return r == -ECONNRESET || r == -ENOTCONN || r == -EPIPE || r == -ECONNREFUSED || r == -ESHUTDOWN || r == -EBADMSG;
}

Status BusError(const std::string& what, int r, const sd_bus_error& err) {
  std::string msg = what + ": ";
  if (sd_bus_error_is_set(&err)) {
    msg += err.name;
    if (err.message) msg += std::string(": ") + err.message;
  } else {
    char buf[128];
    msg += strerror_r(-r, buf, sizeof buf);
  }
  if (r == -ETIMEDOUT) return Status::DeadlineExceeded(msg);
  return Status::Unavailable(msg);
}

// Bounds the next method call by the run's deadline.
bool SetTimeout(sd_bus* bus, const Deadline& deadline) {
  auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline.Remaining()).count();
  if (left <= 0) return false;
  sd_bus_set_method_call_timeout(bus, static_cast<uint64_t>(left));
  return true;
}

}  // namespace

// No flush: a stuck bus must not hang a reload or shutdown.
ServicesCollector::~ServicesCollector() {
  if (bus_) sd_bus_close_unref(bus_);
}

namespace {

Status CheckUnitName(const ConfigNode& item, const std::string& unit) {
  if (unit.find('.') == std::string::npos || unit.find_first_of("/ \t") != std::string::npos) {
    return item.Error("must be a unit name like postfix.service (got \"" + unit + "\")");
  }
  return Status::Ok();
}

}  // namespace

Result<ServicesCollector::Options> ServicesCollector::ParseOptions(const ConfigNode& section) {
  Options o;
  MS_RETURN_IF_ERROR(section.ExpectMap({"units", "processes"}));
  MS_ASSIGN_OR_RETURN(o.units, section["units"].AsUniqueStringList("unit", CheckUnitName));
  const ConfigNode procs = section["processes"];
  if (!procs.defined() || procs.null()) return o;
  MS_ASSIGN_OR_RETURN(o.processes, procs.AsStringMap());
  for (const auto& [name, comm] : o.processes) {
    if (comm.size() > 15) {
      return procs[name].Error("process names are at most 15 characters (the kernel's comm; got \"" + comm + "\")");
    }
    if (std::find(o.units.begin(), o.units.end(), name) != o.units.end()) {
      return procs.Error("check \"" + name + "\" is also a unit; use another name");
    }
  }
  return o;
}

std::vector<MetricDesc> ServicesCollector::Families() { return {kUp, kState, kLoadState, kRestarts, kProcesses}; }

void ServicesCollector::CollectProcesses(MetricSink& sink) {
  if (options_.processes.empty()) return;
  std::map<std::string, int> running;
  for (const auto& [name, comm] : options_.processes) running[comm] = 0;
  DIR* d = ::opendir(options_.proc_root.c_str());
  if (d != nullptr) {
    char path[512], buf[512];
    while (struct dirent* e = ::readdir(d)) {
      if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
      std::snprintf(path, sizeof path, "%s/%s/stat", options_.proc_root.c_str(), e->d_name);
      int fd = ::open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;  // exited since readdir
      ssize_t n = ::read(fd, buf, sizeof buf - 1);
      ::close(fd);
      if (n <= 0) continue;
      buf[n] = '\0';
      // "pid (comm) S ...": comm may contain spaces and parentheses.
      char* open = std::strchr(buf, '(');
      char* close = std::strrchr(buf, ')');
      if (open == nullptr || close == nullptr || close < open || close[1] != ' ') continue;
      std::string comm(open + 1, close);
      auto it = running.find(comm);
      if (it == running.end()) continue;
      char state = close[2];
      if (state != 'Z' && state != 'X' && state != 'x') ++it->second;
    }
    ::closedir(d);
  }
  for (const auto& [name, comm] : options_.processes) {
    int n = running[comm];
    sink.Gauge(kUp, {name}, n > 0 ? 1 : 0);
    sink.Gauge(kProcesses, {name}, n);
  }
}

Status ServicesCollector::CollectUnits(const CollectContext& ctx, MetricSink& sink) {
  if (options_.units.empty()) return Status::Ok();
  // Bus calls end by the work deadline: a bus that never answers is this
  // run's failure, with its data, instead of the run overrunning.
  const Deadline deadline = ctx.WorkDeadline();
  if (bus_ != nullptr && !sd_bus_is_open(bus_)) {
    sd_bus_close_unref(bus_);
    bus_ = nullptr;
  }
  if (bus_ == nullptr) {
    int r = sd_bus_open_system(&bus_);
    if (r < 0) {
      bus_ = nullptr;
      char buf[128];
      return Status::Unavailable(std::string("cannot connect to the system bus: ") + strerror_r(-r, buf, sizeof buf) +
                                 (r == -ENOENT ? " (no systemd here? use services.processes)" : ""));
    }
  }
  Status failure;
  for (const auto& unit : options_.units) {
    const std::string_view u = unit;
    sd_bus_error err = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    if (!SetTimeout(bus_, deadline)) {
      failure = Status::DeadlineExceeded("deadline passed before unit " + unit);
      break;
    }
    // LoadUnit, unlike GetUnit, also answers for units that are not loaded
    // (LoadState tells not-found, masked, ...): they are reported, not skipped.
    int r = sd_bus_call_method(bus_, kSystemd, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                               "LoadUnit", &err, &reply, "s", unit.c_str());
    std::string path;
    if (r >= 0) {
      const char* p = nullptr;
      if (sd_bus_message_read(reply, "o", &p) >= 0 && p) path = p;
      sd_bus_message_unref(reply);
    }
    if (r < 0 || path.empty()) {
      failure = BusError("systemd LoadUnit " + unit, r, err);
      sd_bus_error_free(&err);
      break;
    }
    auto get_string = [&](const char* iface, const char* prop, std::string* out) -> int {
      char* v = nullptr;
      if (!SetTimeout(bus_, deadline)) return -ETIMEDOUT;
      int rr = sd_bus_get_property_string(bus_, kSystemd, path.c_str(), iface, prop, &err, &v);
      if (rr >= 0 && v) *out = v;
      free(v);
      return rr;
    };
    std::string active, load;
    r = get_string("org.freedesktop.systemd1.Unit", "LoadState", &load);
    if (r >= 0) r = get_string("org.freedesktop.systemd1.Unit", "ActiveState", &active);
    if (r < 0) {
      failure = BusError("systemd properties of " + unit, r, err);
      sd_bus_error_free(&err);
      break;
    }
    uint32_t restarts = 0;
    bool has_restarts = false;
    if (EndsWith(unit, ".service") && load == "loaded" && SetTimeout(bus_, deadline)) {
      r = sd_bus_get_property_trivial(bus_, kSystemd, path.c_str(), "org.freedesktop.systemd1.Service", "NRestarts",
                                      &err, 'u', &restarts);
      has_restarts = r >= 0;
      if (r < 0 && (ConnectionLost(r) || r == -ETIMEDOUT)) {
        failure = BusError("systemd NRestarts of " + unit, r, err);
        sd_bus_error_free(&err);
        break;
      }
      sd_bus_error_free(&err);
    }
    sink.Gauge(kUp, {u}, active == "active" || active == "reloading" ? 1 : 0);
    sink.StateSet(kState, {u}, kActiveStates, active);
    sink.StateSet(kLoadState, {u}, kLoadStates, load);
    if (has_restarts) sink.Counter(kRestarts, {u}, restarts);
  }
  if (!failure.ok()) {
    // Reconnect next run: systemd or the bus may have restarted, or the
    // connection may hold a late reply to a call that timed out.
    sd_bus_close_unref(bus_);
    bus_ = nullptr;
  }
  return failure;
}

Status ServicesCollector::Collect(const CollectContext& ctx, MetricSink& sink) {
  CollectProcesses(sink);
  return CollectUnits(ctx, sink);
}

void ServicesCollector::TakeStateFrom(Collector& previous) {
  auto* prev = dynamic_cast<ServicesCollector*>(&previous);
  if (prev == nullptr || prev == this) return;
  // The D-Bus connection: reopened after an error anyway, so it is safe to reuse.
  if (bus_ == nullptr) std::swap(bus_, prev->bus_);
}

}  // namespace mailstack
