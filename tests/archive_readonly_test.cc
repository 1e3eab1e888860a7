// Readers never write: `kevo status/top/show/...` on a run in a read-only folder work (run as an
// unprivileged user, so the kernel really refuses writes even when the suite runs as root), they
// leave no -wal/-shm files behind, they read what a killed writer committed, they do not upgrade
// an older file, and their errors name no SQL.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "archive/archive.h"
#include "archive/sql.h"
#include "tests/archive_fixtures.h"
#include "tests/test_support.h"

namespace kevo {
namespace {
namespace fs = std::filesystem;
using testing::eval_json;
using testing::kernel_source;
using testing::TempDir;

std::vector<std::string> listing(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Fills `path` with `n` programs (seed, then a chain) and closes the writer.
void fill(const std::string& path, int n) {
  auto ar = std::move(Archive::create(path, testing::test_run(), testing::test_config(2))).value();
  std::optional<ProgramId> parent;
  for (int i = 0; i < n; ++i) {
    auto b = ar->begin_evaluation(
        {kernel_source(i), {{"BITS", 32}}, parent, 0, parent ? "llm" : "seed", std::nullopt});
    ASSERT_TRUE(b.ok());
    ASSERT_TRUE(
        ar->record_result(b->id, eval_json(i % 3 ? "ok" : "inaccurate", 1.0 + i, 0.01, 4)).ok());
    parent = b->id;
  }
}

// Runs kevo as an unprivileged user when we are root (root ignores file modes), else as we are.
// Empty `why` when that is possible here.
struct Unprivileged {
  std::string prefix, why;
  Unprivileged() {
    if (geteuid() != 0) return;
    prefix = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
    std::string probe = prefix + "test -x " + testing::kevo_binary() + " 2>/dev/null";
    if (std::system(probe.c_str()) != 0) {
      why = "setpriv is missing or user 65534 cannot run " + testing::kevo_binary();
    }
  }
};

testing::CommandResult kevo_as(const Unprivileged& u, const std::string& args) {
  TempDir out;
  chmod(out.path().c_str(), 0777);  // the unprivileged user writes the output files here
  std::string cmd = u.prefix + testing::kevo_binary() + " " + args + " >" + out.file("out") +
                    " 2>" + out.file("err");
  int rc = std::system(cmd.c_str());
  testing::CommandResult r;
  r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = testing::read_file(out.file("out"));
  r.err = testing::read_file(out.file("err"));
  return r;
}

// The folder tree made readable by everyone, the run folder and its files read-only.
void make_read_only(const TempDir& dir, const std::string& run_dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir.path())) {
    chmod(e.path().c_str(), fs::is_directory(e.path()) ? 0755 : 0444);
  }
  chmod(dir.path().c_str(), 0755);
  chmod(run_dir.c_str(), 0555);
}

void make_writable(const TempDir& dir) {
  chmod(dir.path().c_str(), 0755);
  for (const auto& e : fs::recursive_directory_iterator(dir.path())) chmod(e.path().c_str(), 0755);
}

void expect_no_sql(const std::string& err) {
  for (const char* word : {"SELECT", "INSERT", "UPDATE", "PRAGMA", "sqlite_schema", "prepare"}) {
    EXPECT_EQ(err.find(word), std::string::npos) << word << " in: " << err;
  }
}

TEST(ArchiveReadOnly, ReadersLeaveNoFilesBehind) {
  TempDir dir;
  const std::string db = dir.file("run/kevo.db");
  fill(db, 6);
  const auto before = listing(dir.file("run"));
  EXPECT_EQ(before, (std::vector<std::string>{"kevo.db", "kevo.db-lock"}));
  for (const char* cmd : {"status", "status --json", "top", "top --per-cell", "show 3",
                          "show 3 --source", "lineage 6", "diff 2 5"}) {
    auto r = testing::run_kevo(std::string(cmd) + " --db " + db);
    EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.err;
    EXPECT_EQ(listing(dir.file("run")), before) << "after kevo " << cmd;
  }
}

TEST(ArchiveReadOnly, CommandsWorkInAReadOnlyFolder) {
  Unprivileged u;
  if (!u.why.empty()) GTEST_SKIP() << u.why;
  TempDir dir;
  const std::string db = dir.file("run/kevo.db");
  fill(db, 6);
  make_read_only(dir, dir.file("run"));
  const auto before = listing(dir.file("run"));
  // The user cannot write there: a write attempt really fails.
  EXPECT_NE(std::system((u.prefix + "touch " + dir.file("run/probe") + " 2>/dev/null").c_str()), 0);
  auto top = kevo_as(u, "top --db " + db + " --json");
  ASSERT_EQ(top.exit_code, 0) << top.err;
  auto j = nlohmann::json::parse(top.out);
  ASSERT_EQ(j["programs"].size(), 4u);  // programs 2, 3, 5, 6 are ok
  EXPECT_EQ(j["programs"][0]["id"], 6);
  for (const char* cmd : {"status", "show 6", "lineage 6", "diff 1 6"}) {
    auto r = kevo_as(u, std::string(cmd) + " --db " + db);
    EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.err;
    EXPECT_TRUE(r.err.empty()) << cmd << ": " << r.err;
  }
  EXPECT_EQ(listing(dir.file("run")), before);
  make_writable(dir);
}

// A writer killed with its last commits still in the WAL: the reader must see them, in a
// read-only folder too (the -wal and -shm the writer left are read, not created).
TEST(ArchiveReadOnly, ReadsWhatAKilledWriterCommitted) {
  Unprivileged u;
  if (!u.why.empty()) GTEST_SKIP() << u.why;
  TempDir dir;
  const std::string db = dir.file("run/kevo.db");
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto ar = Archive::create(db, testing::test_run(), testing::test_config(2));
    if (!ar.ok()) _exit(2);
    for (int i = 0; i < 5; ++i) {
      auto b =
          (*ar)->begin_evaluation({kernel_source(i), {}, std::nullopt, 0, "seed", std::nullopt});
      if (!b.ok() || !(*ar)->record_result(b->id, eval_json("ok", 1.0 + i, 0.01, 4)).ok()) _exit(3);
    }
    _exit(0);  // no close: no checkpoint, the commits stay in kevo.db-wal
  }
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  ASSERT_GT(fs::file_size(db + "-wal"), 0u);
  make_read_only(dir, dir.file("run"));
  auto r = kevo_as(u, "status --json --db " + db);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["evaluations"], 5);
  EXPECT_EQ(j["best"]["program"], 5);
  make_writable(dir);
}

// A file from an older kevo (schema 2: no per-status counters) is read as it is: counts come
// from a scan and the file is not upgraded.
TEST(ArchiveReadOnly, OlderSchemaIsReadWithoutUpgrading) {
  TempDir dir;
  const std::string db = dir.file("run/kevo.db");
  fill(db, 6);
  {
    auto raw = std::move(sql::Db::open(db, sql::Db::Mode::kReadWrite, 1000)).value();
    ASSERT_TRUE(raw.exec("DELETE FROM kv WHERE key LIKE 'archive.count.%'; "
                         "UPDATE schema_version SET version = 2; PRAGMA wal_checkpoint(TRUNCATE)")
                    .ok());
  }
  auto r = testing::run_kevo("status --json --db " + db);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["by_status"]["ok"], 4);
  EXPECT_EQ(j["by_status"]["inaccurate"], 2);
  auto raw = std::move(sql::Db::open(db, sql::Db::Mode::kReadOnly, 1000)).value();
  EXPECT_EQ(*raw.query_int("SELECT version FROM schema_version"), 2);
}

TEST(ArchiveReadOnly, ErrorsAreOneLineWithoutSql) {
  TempDir dir;
  testing::write_file(dir.file("junk/kevo.db"), std::string(4096, 'x'));
  auto junk = testing::run_kevo("top --db " + dir.file("junk/kevo.db"));
  EXPECT_EQ(junk.exit_code, 2);  // the file named is not an archive: a usage error
  EXPECT_NE(junk.err.find("is not a kevo database"), std::string::npos) << junk.err;
  expect_no_sql(junk.err);
  fs::create_directories(dir.file("other"));
  fs::create_directories(dir.file("odd"));
  {  // an SQLite file of another program, then one whose tables are not what kevo wrote
    auto other = std::move(sql::Db::open(dir.file("other/kevo.db"),
                                            sql::Db::Mode::kReadWriteCreate, 1000))
                     .value();
    ASSERT_TRUE(other.exec("CREATE TABLE t (x)").ok());
  }
  auto other = testing::run_kevo("status --db " + dir.file("other/kevo.db"));
  EXPECT_EQ(other.exit_code, 2);
  EXPECT_NE(other.err.find("is not a kevo database"), std::string::npos) << other.err;
  {
    auto odd = std::move(sql::Db::open(dir.file("odd/kevo.db"),
                                          sql::Db::Mode::kReadWriteCreate, 1000))
                   .value();
    ASSERT_TRUE(odd.exec("CREATE TABLE schema_version (version INTEGER); "
                         "INSERT INTO schema_version VALUES (3); CREATE TABLE runs (id)")
                    .ok());
  }
  auto odd = testing::run_kevo("status --db " + dir.file("odd/kevo.db"));
  EXPECT_EQ(odd.exit_code, 1);
  EXPECT_EQ(std::count(odd.err.begin(), odd.err.end(), '\n'), 1) << odd.err;
  expect_no_sql(odd.err);
  auto folder = testing::run_kevo("top --db " + dir.file("odd"));
  EXPECT_NE(folder.err.find("is a folder"), std::string::npos) << folder.err;
}

}  // namespace
}  // namespace kevo
