#include "lib/keys/keystone_json.h"

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace volcrypt {
namespace {

using ::volcrypt::testing::StatusIs;

constexpr char kToken[] = R"({"token": {"expires_at": "2026-12-02T00:14:45.000000Z",
  "project": {"id": "a6944d763bf64ee6a275f1263fae0352", "name": "service"},
  "catalog": [{"type": "key-manager", "endpoints": [
    {"interface": "public", "region_id": "RegionOne", "url": "http://127.0.0.1:9311/"}]}]}})";

TEST(KeystoneJsonTest, TokenBodyGivesExpiryProjectAndCatalog) {
  absl::StatusOr<KeystoneTokenBody> t = ParseKeystoneTokenBody(kToken);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->expires_at, 1796170485);
  EXPECT_EQ(t->project_id, "a6944d763bf64ee6a275f1263fae0352");
  EXPECT_EQ(CatalogEndpointUrl(t->catalog_json, "key-manager", "public", "RegionOne"),
            "http://127.0.0.1:9311");
  EXPECT_EQ(CatalogEndpointUrl(t->catalog_json, "key-manager", "public", "RegionTwo"), "");
}

TEST(KeystoneJsonTest, TokenBodyWithoutExpiryIsDataLoss) {
  EXPECT_THAT(ParseKeystoneTokenBody("not json"), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(ParseKeystoneTokenBody(R"({"token": {}})"),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(ParseKeystoneTokenBody(R"({"token": {"expires_at": "tomorrow"}})"),
              StatusIs(absl::StatusCode::kDataLoss));
}

// Found by tests/fuzz/keystone_json (reproducers in its regressions/): a
// field of the wrong JSON type threw nlohmann::json::type_error through the
// Status-returning parser, out of KeystoneSession into whichever flow was
// renewing a token.
TEST(KeystoneJsonTest, TokenBodyWithFieldsOfTheWrongTypeIsDataLoss) {
  EXPECT_THAT(ParseKeystoneTokenBody(R"({"token": {"expires_at": 1}})"),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(ParseKeystoneTokenBody(R"({"token": {"expires_at": null}})"),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(ParseKeystoneTokenBody(
                  R"({"token": {"expires_at": "2026-12-02T00:14:45Z", "project": []}})"),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(ParseKeystoneTokenBody(
                  R"({"token": {"expires_at": "2026-12-02T00:14:45Z", "project": {"id": 5}}})"),
              StatusIs(absl::StatusCode::kDataLoss));
}

// A catalog nested a million deep (2 MB) overflowed the stack: json::dump()
// recurses once per level.
TEST(KeystoneJsonTest, ACatalogNestedTooDeeplyIsDataLossNotAStackOverflow) {
  const size_t depth = 1000000;
  const std::string body = R"({"token": {"expires_at": "2026-12-02T00:14:45Z", "catalog": )" +
                           std::string(depth, '[') + std::string(depth, ']') + "}}";
  EXPECT_THAT(ParseKeystoneTokenBody(body), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(KeystoneJsonTest, CatalogEntriesOfTheWrongShapeAreSkipped) {
  const std::string catalog = R"([1, {"type": 5}, {"type": "key-manager", "endpoints": [
      1, ["x"], {"interface": 2, "url": "http://wrong"},
      {"interface": "public", "url": 3},
      {"interface": "public", "region_id": 7, "region": "RegionOne", "url": "http://a/"}]}])";
  EXPECT_EQ(CatalogEndpointUrl(catalog, "key-manager", "public", ""), "http://a");
  EXPECT_EQ(CatalogEndpointUrl(catalog, "key-manager", "public", "RegionOne"), "http://a");
  EXPECT_EQ(CatalogEndpointUrl(R"([{"type": "key-manager", "endpoints": 4}])",
                               "key-manager", "public", ""),
            "");
}

TEST(KeystoneJsonTest, ErrorMessageIsReadWhenItIsAString) {
  EXPECT_EQ(KeystoneErrorMessage(R"({"error": {"message": "no"}})"), "no");
  EXPECT_EQ(KeystoneErrorMessage(R"({"error": {"message": 7}})"), std::nullopt);
  EXPECT_EQ(KeystoneErrorMessage("[]"), std::nullopt);
}

}  // namespace
}  // namespace volcrypt
