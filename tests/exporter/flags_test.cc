#include "exporter/flags.h"

#include <gtest/gtest.h>

#include <fstream>

#include <unistd.h>

namespace mailstack {
namespace {

TEST(FlagsTest, DefaultsFollowTheProductContract) {
  auto f = ParseFlags({});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->config_file, "/etc/mailstack_exporter/config.yml");
  EXPECT_EQ(f->listen_addresses, std::vector<std::string>{":10587"});
  EXPECT_EQ(f->telemetry_path, "/metrics");
  EXPECT_EQ(f->max_requests, 40);
  EXPECT_FALSE(f->config_check);
  EXPECT_FALSE(f->disable_exporter_metrics);
  EXPECT_EQ(f->log_level, LogLevel::kInfo);
  EXPECT_EQ(f->log_format, LogFormat::kLogfmt);
}

TEST(FlagsTest, BothValueFormsRepeatableListenAndBooleans) {
  auto f = ParseFlags({"--config.file=/etc/x.yml", "--web.listen-address", "127.0.0.1:1", "--web.listen-address=:2",
                       "--web.telemetry-path=/m", "--web.disable-exporter-metrics", "--web.max-requests=3",
                       "--log.level=debug", "--log.format", "json", "--config.check"});
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->config_file, "/etc/x.yml");
  EXPECT_EQ(f->listen_addresses, (std::vector<std::string>{"127.0.0.1:1", ":2"}));
  EXPECT_EQ(f->telemetry_path, "/m");
  EXPECT_TRUE(f->disable_exporter_metrics);
  EXPECT_EQ(f->max_requests, 3);
  EXPECT_EQ(f->log_level, LogLevel::kDebug);
  EXPECT_EQ(f->log_format, LogFormat::kJson);
  EXPECT_TRUE(f->config_check);
  auto neg = ParseFlags({"--web.disable-exporter-metrics", "--no-web.disable-exporter-metrics"});
  ASSERT_TRUE(neg.ok());
  EXPECT_FALSE(neg->disable_exporter_metrics);
}

TEST(FlagsTest, ErrorsAreClear) {
  const std::pair<std::vector<std::string>, const char*> cases[] = {
      {{"--bogus"}, "unknown flag --bogus"},
      {{"-x"}, "unexpected argument \"-x\""},
      {{"--config.file"}, "--config.file needs a value"},
      {{"--log.level=verbose"}, "--log.level: must be one of debug, info, warn, error (got \"verbose\")"},
      {{"--log.format=xml"}, "--log.format: must be logfmt or json (got \"xml\")"},
      {{"--web.max-requests=-1"}, "--web.max-requests: want a number >= 0 (got \"-1\")"},
      {{"--version=maybe"}, "--version: want true or false (got \"maybe\")"},
  };
  for (const auto& [args, msg] : cases) {
    auto f = ParseFlags(args);
    ASSERT_FALSE(f.ok()) << args[0];
    EXPECT_EQ(f.status().message(), msg);
  }
}

TEST(FlagsTest, HelpListsEveryFlagAndCollector) {
  std::string h = HelpText();
  for (const char* flag :
       {"--config.file", "--config.check", "--web.listen-address", "--web.telemetry-path", "--web.config.file",
        "--web.disable-exporter-metrics", "--web.max-requests", "--log.level", "--log.format", "--version", "--help"}) {
    EXPECT_NE(h.find(flag), std::string::npos) << flag;
  }
  EXPECT_NE(h.find("  filesystem          [default on]  space and inodes"), std::string::npos) << h;
}

TEST(FlagsTest, WebConfigRefusesWhatIsNotSupported) {
  std::string path = ::testing::TempDir() + "/web" + std::to_string(::getpid()) + ".yml";
  auto write = [&](const char* text) {
    std::ofstream out(path);
    out << text;
  };
  write("");
  EXPECT_TRUE(CheckWebConfigFile(path).ok());
  write("tls_server_config:\n  cert_file: a.pem\n");
  EXPECT_EQ(CheckWebConfigFile(path).message(),
            path +
                ":2:3: tls_server_config: TLS is not supported yet (Debian's civetweb crashes on HTTPS); "
                "terminate TLS in a reverse proxy");
  write("basic_auth_users:\n  alice: $2y$10$x\n");
  EXPECT_EQ(CheckWebConfigFile(path).message(),
            path +
                ":2:3: basic_auth_users: basic auth is not supported yet; put the exporter behind a reverse "
                "proxy or bind it to 127.0.0.1");
  write("tls_config: {}\n");
  EXPECT_EQ(CheckWebConfigFile(path).message(),
            path + ":1:1: tls_config: unknown key (allowed: tls_server_config, basic_auth_users, http_server_config)");
  EXPECT_EQ(CheckWebConfigFile("/nonexistent/web.yml").message(),
            "--web.config.file /nonexistent/web.yml: No such file or directory");
}

}  // namespace
}  // namespace mailstack
