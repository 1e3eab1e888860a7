// The PostgreSQL side of the test suites: a server named by KEVO_TEST_PG (a libpq URL of a
// database the tests may create databases from; scripts/pg_test_server.sh starts a throwaway
// one, and scripts/test.sh does so for CI), a fresh database per test, and the fixture that runs
// an archive suite on both back ends.
//
// Without KEVO_TEST_PG (or with a server that does not answer) PostgreSQL tests skip, saying
// why; with KEVO_REQUIRE_PG=1 (CI) they fail instead.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/test_support.h"

namespace kevo::testing {

// Empty when KEVO_TEST_PG names a server that answers, else why not.
std::string postgres_unavailable_reason();
// The URL of KEVO_TEST_PG with another database name.
std::string postgres_url_for(const std::string& database);

// A database created for one test and dropped (with its connections) when the object dies.
class ScratchDatabase {
 public:
  ScratchDatabase();  // asserts a server is available (check postgres_unavailable_reason first)
  ~ScratchDatabase();
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;
  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_, url_;
};

enum class Backend { kSqlite, kPostgres };
std::string backend_name(const ::testing::TestParamInfo<Backend>& info);

// An archive suite run once per back end: TEST_P(Suite, Name) with
//   class Suite : public ArchiveBackendTest {};
//   INSTANTIATE_TEST_SUITE_P(Backends, Suite, ::testing::Values(Backend::kSqlite,
//                            Backend::kPostgres), backend_name);
// location(name) is where an archive goes: a file under a temporary folder, or a fresh database.
class ArchiveBackendTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override;
  std::string location(const std::string& name = "run");
  bool postgres() const { return GetParam() == Backend::kPostgres; }
  TempDir dir;

 private:
  std::map<std::string, std::unique_ptr<ScratchDatabase>> databases_;
};

}  // namespace kevo::testing

// Skips (or, with KEVO_REQUIRE_PG=1, fails) a test that needs the PostgreSQL test server.
#define KEVO_REQUIRE_POSTGRES()                                                \
  do {                                                                         \
    std::string kevo_pg_why_ = ::kevo::testing::postgres_unavailable_reason(); \
    if (!kevo_pg_why_.empty()) {                                               \
      const char* kevo_req_ = std::getenv("KEVO_REQUIRE_PG");                  \
      if (kevo_req_ && std::string(kevo_req_) == "1") {                        \
        FAIL() << "KEVO_REQUIRE_PG=1 but no PostgreSQL: " << kevo_pg_why_;     \
      }                                                                        \
      GTEST_SKIP() << "needs PostgreSQL: " << kevo_pg_why_;                    \
    }                                                                          \
  } while (0)
