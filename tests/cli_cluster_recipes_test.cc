// The launch recipes of docs/cluster.md, tested as far as a machine without Slurm or Kubernetes
// can: the Slurm batch script runs under a stand-in `srun` (Slurm's variables for a node of two
// GPUs) and must start one `kevo worker` on GPUs 0,1 whose flags the real kevo accepts; the
// Kubernetes manifest must hold the PostgreSQL service, the worker StatefulSet and the
// orchestrator Job, with the worker's command accepted by the real kevo and every password taken
// from a secret, never written in a URL or a value.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <map>
#include <sstream>

#include "archive/archive.h"
#include "tests/test_support.h"

namespace kevo {
namespace {

using testing::read_file;
using testing::TempDir;
using testing::write_file;

std::string recipe(const std::string& name) {
  return testing::source_dir() + "/docs/cluster/" + name;
}

std::string quoted(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += " '" + w + "'";
  return out;
}

TEST(ClusterRecipes, SlurmScriptStartsOneWorkerOnTheNodesGpus) {
  TempDir tmp;
  // srun: drops its options and runs the task once, as on a node Slurm gave two GPUs.
  write_file(tmp.file("bin/srun"),
             "#!/bin/bash\nwhile [[ \"$1\" == --* ]]; do shift; done\n"
             "SLURM_GPUS_ON_NODE=2 SLURM_JOB_ID=42 exec \"$@\"\n");
  write_file(tmp.file("bin/kevo"),
             "#!/bin/bash\nprintf '%s\\n' \"$@\" > " + tmp.file("args") + "\n");
  ASSERT_EQ(std::system(("chmod +x " + tmp.file("bin/srun") + " " + tmp.file("bin/kevo")).c_str()),
            0);
  const std::string env = "PATH=" + tmp.file("bin") +
                          ":/usr/bin:/bin KEVO=" + tmp.file("bin/kevo") +
                          " TMPDIR=" + tmp.file("scratch");
  int rc = std::system((env + " KEVO_DB=postgresql://kevo@db.invalid/kevo bash " +
                        recipe("kevo-workers.sbatch") + " >" + tmp.file("out") + " 2>&1")
                           .c_str());
  ASSERT_EQ(rc, 0) << read_file(tmp.file("out"));
  std::vector<std::string> args;
  std::istringstream in(read_file(tmp.file("args")));
  for (std::string line; std::getline(in, line);) args.push_back(line);
  EXPECT_EQ(args, (std::vector<std::string>{"worker", "--db", "postgresql://kevo@db.invalid/kevo",
                                            "--gpus", "0,1", "--cache-dir",
                                            tmp.file("scratch") + "/kevo-cache-42"}));
  // The real kevo accepts those flags: it stops at the missing GPU (3) or the unreachable
  // database (1), not at usage (2).
  auto real = testing::run_kevo(quoted(args));
  EXPECT_TRUE(real.exit_code == 3 || real.exit_code == 1) << real.exit_code << " " << real.err;

  // Without KEVO_DB it refuses, naming the variable.
  rc = std::system(("env -u KEVO_DB " + env + " bash " + recipe("kevo-workers.sbatch") + " >" +
                    tmp.file("out") + " 2>&1")
                       .c_str());
  EXPECT_NE(rc, 0);
  EXPECT_NE(read_file(tmp.file("out")).find("KEVO_DB"), std::string::npos);
}

TEST(ClusterRecipes, KubernetesManifestHoldsTheServiceWorkersAndOrchestrator) {
  std::vector<YAML::Node> docs = YAML::LoadAllFromFile(recipe("kevo-k8s.yaml"));
  std::map<std::string, YAML::Node> by_name;  // "Kind/name"
  for (const auto& d : docs) {
    by_name[d["kind"].as<std::string>() + "/" + d["metadata"]["name"].as<std::string>()] = d;
  }
  ASSERT_TRUE(by_name.count("Service/kevo-postgres"));
  ASSERT_TRUE(by_name.count("StatefulSet/kevo-postgres"));
  ASSERT_TRUE(by_name.count("StatefulSet/kevo-worker"));
  ASSERT_TRUE(by_name.count("Job/kevo-orchestrator"));

  // Every password comes from a secret; no URL carries one.
  for (const auto& d : docs) {
    if (!d["spec"] || !d["spec"]["template"]) continue;
    for (const auto& c : d["spec"]["template"]["spec"]["containers"]) {
      for (const auto& e : c["env"]) {
        const std::string name = e["name"].as<std::string>();
        if (name.find("PASSWORD") != std::string::npos || name.find("KEY") != std::string::npos) {
          EXPECT_FALSE(e["value"]) << name << " is written in the manifest";
          EXPECT_TRUE(e["valueFrom"]["secretKeyRef"]) << name;
        }
      }
      for (const auto& arg : c["command"]) {
        std::string a = arg.as<std::string>();
        if (is_postgres_location(a)) {
          EXPECT_EQ(printable_location(a), a) << "a password in " << a;
          EXPECT_NE(a.find("@kevo-postgres/"), std::string::npos) << "not the service: " << a;
        }
      }
    }
  }

  const YAML::Node worker =
      by_name["StatefulSet/kevo-worker"]["spec"]["template"]["spec"]["containers"][0];
  EXPECT_TRUE(worker["resources"]["limits"]["nvidia.com/gpu"]);
  std::vector<std::string> command;
  for (const auto& a : worker["command"]) command.push_back(a.as<std::string>());
  ASSERT_GE(command.size(), 4u);
  EXPECT_EQ(command[1], "worker");
  // The real kevo accepts the worker's flags (it stops at the missing GPU or database).
  auto real = testing::run_kevo(quoted({command.begin() + 1, command.end()}));
  EXPECT_TRUE(real.exit_code == 3 || real.exit_code == 1) << real.exit_code << " " << real.err;
}

}  // namespace
}  // namespace kevo
