#include "collectors/parse/dkim_record.h"

#include <gtest/gtest.h>

#include <string>

namespace mailstack {
namespace {

using namespace std::string_literals;

// A 1024-bit RSA SubjectPublicKeyInfo (162 bytes DER), as opendkim-genkey publishes it.
const std::string kRsaKey =
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDIRdHWY0n9tHe5d6P+DUTQp+sSNldfKjgbbBat3cR/2IwZ9Pm/ZEdW7x5Ojym0i3MsCjn"
    "DBuFxOaEtjCPyak3oFtf+AeTdG0qFL68eJt03nwFcgTmPoA/Co4OGumttnLtc/BhxKvorpJeHWC7N0ewhcJqblRFTBruZZdhDd1mNZQIDAQAB";

// RFC 8463 appendix A.2: brisbane._domainkey.football.example.com.
const std::string kEd25519Record = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

dkim::KeyRecord MustParse(const std::string& txt) {
  auto r = dkim::Parse(txt);
  EXPECT_TRUE(r.ok()) << txt << ": " << r.status().message();
  return r.ok() ? *r : dkim::KeyRecord{};
}

TEST(DkimRecordTest, RsaKey) {
  auto k = MustParse("v=DKIM1; k=rsa; p=" + kRsaKey);
  EXPECT_EQ(k.version, "DKIM1");
  EXPECT_EQ(k.key_type, "rsa");
  EXPECT_EQ(k.public_key_b64, kRsaKey);
  EXPECT_EQ(k.hash_algs, "");
  EXPECT_EQ(k.flags, "");
  EXPECT_EQ(k.services, "");
  auto der = dkim::Base64Decode(k.public_key_b64);
  ASSERT_TRUE(der.ok());
  EXPECT_EQ(der->size(), 162u);
  EXPECT_EQ(der->substr(0, 2), "\x30\x81"s);  // DER SEQUENCE
}

TEST(DkimRecordTest, Ed25519KeyFromRfc8463) {
  auto k = MustParse(kEd25519Record);
  EXPECT_EQ(k.version, "DKIM1");
  EXPECT_EQ(k.key_type, "ed25519");
  EXPECT_EQ(k.public_key_b64, "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
  auto raw = dkim::Base64Decode(k.public_key_b64);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->size(), 32u);
  EXPECT_EQ(static_cast<unsigned char>((*raw)[0]), 0xd7);
  EXPECT_EQ(static_cast<unsigned char>((*raw)[31]), 0x1a);
}

TEST(DkimRecordTest, DefaultsAndOptionalTags) {
  // No v= (it is optional), no k= (rsa by default).
  auto k = MustParse("p=" + kRsaKey);
  EXPECT_EQ(k.version, "");
  EXPECT_EQ(k.key_type, "rsa");
  EXPECT_EQ(k.public_key_b64, kRsaKey);

  k = MustParse("v=DKIM1; h=sha256; t=y:s; s=email; n=rotated 2024; k=rsa; p=" + kRsaKey + ";");
  EXPECT_EQ(k.hash_algs, "sha256");
  EXPECT_EQ(k.flags, "y:s");
  EXPECT_EQ(k.services, "email");
  EXPECT_EQ(k.public_key_b64, kRsaKey);

  // Unknown tags are ignored; tag names are case-sensitive, so "K=" is an unknown tag too.
  k = MustParse("v=DKIM1; foo=bar; x_y1=; K=dsa; p=" + kRsaKey);
  EXPECT_EQ(k.key_type, "rsa");
}

TEST(DkimRecordTest, RevokedKey) {
  auto k = MustParse("v=DKIM1; k=rsa; p=");
  EXPECT_EQ(k.public_key_b64, "");
  k = MustParse("v=DKIM1; p= ;");
  EXPECT_EQ(k.public_key_b64, "");
  EXPECT_EQ(MustParse("p=").key_type, "rsa");
}

TEST(DkimRecordTest, FoldingWhiteSpace) {
  // FWS around tags, '=' and values; inside p= (a key split across TXT strings by a zone editor).
  auto k = MustParse(" v = DKIM1 ;\tk = rsa ;\r\n p = " + kRsaKey.substr(0, 100) + " \t" + kRsaKey.substr(100, 60) +
                     "\r\n\t" + kRsaKey.substr(160) + " ; ");
  EXPECT_EQ(k.version, "DKIM1");
  EXPECT_EQ(k.public_key_b64, kRsaKey);
  k = MustParse("v=DKIM1; h=sha1 : sha256; p=" + kRsaKey);
  EXPECT_EQ(k.hash_algs, "sha1 : sha256");  // as written, outer FWS trimmed
}

struct BadCase {
  std::string record;
  const char* message;
};

TEST(DkimRecordTest, Errors) {
  const BadCase cases[] = {
      {"p=" + kRsaKey + "; v=DKIM1", "DKIM: v= is not the first tag"},
      {"k=rsa; v=DKIM1; p=" + kRsaKey, "DKIM: v= is not the first tag"},
      {"v=DKIM2; p=" + kRsaKey, "DKIM: unsupported version \"DKIM2\""},
      {"v=dkim1; p=" + kRsaKey, "DKIM: unsupported version \"dkim1\""},
      {"v=; p=" + kRsaKey, "DKIM: unsupported version \"\""},
      {"v=DKIM1; k=dsa; p=" + kRsaKey, "DKIM: unsupported key type \"dsa\""},
      {"v=DKIM1; k=RSA; p=" + kRsaKey, "DKIM: unsupported key type \"RSA\""},
      {"v=DKIM1; k=; p=" + kRsaKey, "DKIM: unsupported key type \"\""},
      {"v=DKIM1; k=rsa", "DKIM: p= missing"},
      {"v=DKIM1; P=" + kRsaKey, "DKIM: p= missing"},
      {"", "DKIM: p= missing"},
      {"v=DKIM1; p=AB!D", "DKIM: p= is not valid base64: bad character at offset 2"},
      {"v=DKIM1; p=" + kRsaKey.substr(1), "DKIM: p= is not valid base64: length 215 is not a multiple of 4"},
      {"v=DKIM1; p=A=BC", "DKIM: p= is not valid base64: misplaced padding at offset 1"},
      {"v=DKIM1; p=-_AA", "DKIM: p= is not valid base64: bad character at offset 0"},  // base64url is not base64
      {"v=DKIM1; p=AAAA; p=BBBB", "DKIM: duplicate tag \"p\""},
      {"v=DKIM1; v=DKIM1; p=AAAA", "DKIM: duplicate tag \"v\""},
      {"v=DKIM1;; p=AAAA", "DKIM: empty tag-spec at offset 8"},
      {";v=DKIM1; p=AAAA", "DKIM: empty tag-spec at offset 0"},
      {"v=DKIM1; p=AAAA;;", "DKIM: empty tag-spec at offset 16"},
      {"v=DKIM1; garbage; p=AAAA", "DKIM: tag without '=': \"garbage\""},
      {"v=DKIM1; 1x=y; p=AAAA", "DKIM: bad tag name \"1x\""},
      {"v=DKIM1; =y; p=AAAA", "DKIM: bad tag name \"\""},
      {"v=DKIM1; a b=y; p=AAAA", "DKIM: bad tag name \"a b\""},
      {"v=DKIM1; p=AA\x01"
       "A",
       "DKIM: bad character in the value of tag \"p\""},
      {"v=DKIM1; n=caf\xc3\xa9; p=AAAA", "DKIM: bad character in the value of tag \"n\""},
  };
  for (const auto& c : cases) {
    auto r = dkim::Parse(c.record);
    ASSERT_FALSE(r.ok()) << c.record;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << c.record;
    EXPECT_EQ(r.status().message(), c.message) << c.record;
  }
}

TEST(DkimRecordTest, Base64Decode) {
  EXPECT_EQ(*dkim::Base64Decode(""), "");
  EXPECT_EQ(*dkim::Base64Decode("TWFu"), "Man");
  EXPECT_EQ(*dkim::Base64Decode("TWE="), "Ma");
  EXPECT_EQ(*dkim::Base64Decode("TQ=="), "M");
  EXPECT_EQ(*dkim::Base64Decode("AAECAwQF"), "\0\x01\x02\x03\x04\x05"s);
  EXPECT_EQ(*dkim::Base64Decode("+/+/"), "\xfb\xff\xbf"s);
  const std::pair<const char*, const char*> bad[] = {
      {"TQ", "base64: length 2 is not a multiple of 4"}, {"TWFuT", "base64: length 5 is not a multiple of 4"},
      {"TQ=A", "base64: misplaced padding at offset 2"}, {"====", "base64: misplaced padding at offset 0"},
      {"T===", "base64: misplaced padding at offset 1"}, {"TQ==TWFu", "base64: misplaced padding at offset 2"},
      {"TW u", "base64: bad character at offset 2"},     {"TWF\n", "base64: bad character at offset 3"},
  };
  for (const auto& [in, msg] : bad) {
    auto r = dkim::Base64Decode(in);
    ASSERT_FALSE(r.ok()) << in;
    EXPECT_EQ(r.status().message(), msg) << in;
  }
}

TEST(DkimRecordTest, BoundedOnHugeInput) {
  std::string big = "v=DKIM1; p=";
  while (big.size() < 65536) big += "AAAA ";
  auto k = dkim::Parse(big);
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_EQ(k->public_key_b64.size() % 4, 0u);
  std::string tags = "v=DKIM1";
  for (int i = 0; tags.size() < 65536; ++i) tags += "; x" + std::to_string(i) + "=y";
  EXPECT_EQ(dkim::Parse(tags).status().message(), "DKIM: p= missing");
}

}  // namespace
}  // namespace mailstack
