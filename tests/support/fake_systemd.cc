// A fake org.freedesktop.systemd1 for tests, served with sd-bus on the bus in
// $DBUS_SYSTEM_BUS_ADDRESS (a private dbus-daemon). It answers
// Manager.LoadUnit/GetUnit and the Unit (LoadState, ActiveState, SubState)
// and Service (NRestarts) properties, read on every call from a state file:
//   <unit> <load_state> <active_state> <sub_state> <nrestarts> [delay_ms]
// Units missing from the file are not-found/inactive/dead, like systemd.
// delay_ms makes every property read of that unit sleep (a slow bus).
//   usage: fake_systemd STATE_FILE
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace {

const char* g_state_file = nullptr;

struct Unit {
  std::string load = "not-found", active = "inactive", sub = "dead";
  unsigned restarts = 0;
  int delay_ms = 0;
};

Unit Lookup(const std::string& name) {
  std::ifstream in(g_state_file);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string n;
    Unit u;
    if (!(ss >> n >> u.load >> u.active >> u.sub >> u.restarts)) continue;
    ss >> u.delay_ms;
    if (n == name) return u;
  }
  return Unit();
}

int ReplyPath(sd_bus_message* m, const char* name) {
  char* path = nullptr;
  int r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", name, &path);
  if (r < 0) return r;
  r = sd_bus_reply_method_return(m, "o", path);
  free(path);
  return r;
}

// Like systemd: LoadUnit answers for any name (LoadState tells not-found).
int LoadUnit(sd_bus_message* m, void*, sd_bus_error*) {
  const char* name = nullptr;
  int r = sd_bus_message_read(m, "s", &name);
  return r < 0 ? r : ReplyPath(m, name);
}

// GetUnit fails for units that are not loaded.
int GetUnit(sd_bus_message* m, void*, sd_bus_error* err) {
  const char* name = nullptr;
  int r = sd_bus_message_read(m, "s", &name);
  if (r < 0) return r;
  if (Lookup(name).load == "not-found") {
    return sd_bus_error_setf(err, "org.freedesktop.systemd1.NoSuchUnit", "Unit %s not loaded.", name);
  }
  return ReplyPath(m, name);
}

int Property(sd_bus*, const char* path, const char*, const char* property, sd_bus_message* reply, void*,
             sd_bus_error*) {
  char* name = nullptr;
  if (sd_bus_path_decode(path, "/org/freedesktop/systemd1/unit", &name) <= 0) return -ENOENT;
  Unit u = Lookup(name);
  free(name);
  if (u.delay_ms > 0) usleep(static_cast<useconds_t>(u.delay_ms) * 1000);
  if (strcmp(property, "LoadState") == 0) return sd_bus_message_append(reply, "s", u.load.c_str());
  if (strcmp(property, "ActiveState") == 0) return sd_bus_message_append(reply, "s", u.active.c_str());
  if (strcmp(property, "SubState") == 0) return sd_bus_message_append(reply, "s", u.sub.c_str());
  if (strcmp(property, "NRestarts") == 0) return sd_bus_message_append(reply, "u", u.restarts);
  return -EINVAL;
}

const sd_bus_vtable kManager[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("LoadUnit", "s", "o", LoadUnit, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("GetUnit", "s", "o", GetUnit, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END,
};
const sd_bus_vtable kUnit[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("LoadState", "s", Property, 0, 0),
    SD_BUS_PROPERTY("ActiveState", "s", Property, 0, 0),
    SD_BUS_PROPERTY("SubState", "s", Property, 0, 0),
    SD_BUS_VTABLE_END,
};
const sd_bus_vtable kService[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("NRestarts", "u", Property, 0, 0),
    SD_BUS_VTABLE_END,
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fake_systemd STATE_FILE\n");
    return 2;
  }
  g_state_file = argv[1];
  sd_bus* bus = nullptr;
  int r = sd_bus_open_system(&bus);
  if (r < 0) {
    std::fprintf(stderr, "fake_systemd: cannot connect to the bus: %s\n", strerror(-r));
    return 1;
  }
  sd_bus_slot* slots[3] = {};
  sd_bus_add_object_vtable(bus, &slots[0], "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", kManager,
                           nullptr);
  sd_bus_add_fallback_vtable(bus, &slots[1], "/org/freedesktop/systemd1/unit", "org.freedesktop.systemd1.Unit", kUnit,
                             nullptr, nullptr);
  sd_bus_add_fallback_vtable(bus, &slots[2], "/org/freedesktop/systemd1/unit", "org.freedesktop.systemd1.Service",
                             kService, nullptr, nullptr);
  r = sd_bus_request_name(bus, "org.freedesktop.systemd1", 0);
  if (r < 0) {
    std::fprintf(stderr, "fake_systemd: cannot own org.freedesktop.systemd1: %s\n", strerror(-r));
    return 1;
  }
  std::fprintf(stderr, "fake_systemd: ready\n");
  for (;;) {
    r = sd_bus_process(bus, nullptr);
    if (r < 0) {
      std::fprintf(stderr, "fake_systemd: bus error: %s\n", strerror(-r));
      return 1;
    }
    if (r > 0) continue;
    r = sd_bus_wait(bus, UINT64_MAX);
    if (r < 0 && r != -EINTR) return 1;
  }
}
