// `deepgen train` as several data-parallel ranks: launched by hand (the torchrun variables) and
// by torchrun itself, exact resume, a killed rank, and errors that stop every rank.
#include <gtest/gtest.h>
#include <netdb.h>
#include <unistd.h>

#include "cli/cli_support.h"
#include "dist_support.h"

namespace {

using deepgen::testing::free_port;
using deepgen::testing::rank_env;

// The toy VAE run of the CLI tests as `world` ranks on one port; waits for all of them.
std::vector<Result> train_ranks(int world, const std::vector<std::string>& args,
                                double timeout_s = kTimeoutSeconds) {
  const int port = free_port();
  std::vector<std::unique_ptr<Process>> ranks;
  for (int r = 0; r < world; ++r)
    ranks.push_back(std::make_unique<Process>(args, rank_env(r, world, port)));
  std::vector<Result> results;
  for (auto& p : ranks) results.push_back(p->wait(timeout_s));
  return results;
}

::testing::AssertionResult all_succeeded(const std::vector<Result>& results) {
  for (size_t r = 0; r < results.size(); ++r)
    if (results[r].code != 0 || results[r].timed_out)
      return ::testing::AssertionFailure() << "rank " << r << ": " << describe(results[r]);
  return ::testing::AssertionSuccess();
}

TEST(CliDist, TwoRanksTrainAndOnlyRankZeroWrites) {
  TempDir dir;
  const std::string out = dir.file("run");
  const auto r = train_ranks(2, toy_train(out, {"--steps", "40", "--log-every", "10"}));
  ASSERT_TRUE(all_succeeded(r));
  EXPECT_NE(r[0].err.find("as 2 data-parallel ranks"), std::string::npos) << r[0].err;
  EXPECT_TRUE(r[1].err.empty()) << "rank 1 should stay quiet: " << r[1].err;
  EXPECT_TRUE(fs::exists(out + "/report.html"));
  const auto rows = training_rows(out);
  ASSERT_EQ(rows.size(), 4u);  // one writer: no row twice
  EXPECT_EQ(rows.back()["step"].get<double>(), 40);
}

TEST(CliDist, ResumeUnderTwoRanksIsExact) {
  // 20 steps, then --resume to 50, against 50 straight: the same bytes. The VAE draws noise
  // on every rank, so this needs every rank's random state in the checkpoint, not only rank 0's.
  TempDir dir;
  const std::string resumed = dir.file("resumed"), straight = dir.file("straight");
  ASSERT_TRUE(all_succeeded(train_ranks(2, toy_train(resumed, {"--steps", "20"}))));
  ASSERT_TRUE(all_succeeded(
      train_ranks(2, {"train", "--out", resumed, "--resume", "--steps", "50", "--threads", "1"})));
  ASSERT_TRUE(all_succeeded(train_ranks(2, toy_train(straight, {"--steps", "50"}))));
  EXPECT_TRUE(same_weights(resumed, straight));
}

TEST(CliDist, AKilledRankStopsTheOthersWithAClearError) {
  for (int victim : {1, 0}) {
    TempDir dir;
    const std::string out = dir.file("run");
    const int port = free_port();
    const auto args = toy_train(out, {"--steps", "1000000", "--checkpoint-every", "200"});
    Process rank0(args, rank_env(0, 2, port)), rank1(args, rank_env(1, 2, port));
    // Wait until training runs (the first checkpoint is written), then kill one rank.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!fs::exists(out + "/checkpoint.pt") && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(fs::exists(out + "/checkpoint.pt")) << "training never reached step 200";
    Process& dead = victim == 0 ? rank0 : rank1;
    Process& survivor = victim == 0 ? rank1 : rank0;
    dead.signal(SIGKILL);
    const auto t0 = std::chrono::steady_clock::now();
    const Result r = survivor.wait(60.0);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_FALSE(r.timed_out) << "rank " << 1 - victim << " hung after rank " << victim << " died";
    EXPECT_NE(r.code, 0);
    EXPECT_LT(r.code, 128) << "an error exit, not a crash\n" << describe(r);
    EXPECT_NE(r.err.find("deepgen: error: distributed"), std::string::npos) << describe(r);
    EXPECT_NE(r.err.find("another rank exited"), std::string::npos) << describe(r);
    EXPECT_LT(secs, 60.0);
    dead.wait();
  }
}

TEST(CliDist, ErrorsStopEveryRank) {
  TempDir dir;
  // A batch the ranks cannot split evenly, and per-example q (rank-local state): both ranks
  // fail with the same message instead of one waiting for the other.
  for (const auto& [flags, needle] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--batch", "63"}, "not divisible by the world size 2"},
           {{"--inference", "svi"}, "--inference svi keeps a q for every training example"}}) {
    std::vector<std::string> args = toy_train(dir.file("bad"), {"--steps", "5"});
    auto batch = std::find(args.begin(), args.end(), "--batch");
    if (flags[0] == "--batch")
      *(batch + 1) = flags[1];
    else
      args.insert(args.end(), flags.begin(), flags.end());
    const auto r = train_ranks(2, args);
    for (const Result& one : r) {
      EXPECT_FALSE(one.timed_out) << describe(one);
      EXPECT_NE(one.code, 0) << describe(one);
      EXPECT_NE(one.err.find(needle), std::string::npos) << describe(one);
    }
  }
  // A rank launched without the rest of the torchrun variables.
  EXPECT_TRUE(one_line_error(
      deepgen(toy_train(dir.file("x"), {"--steps", "5"}), {{"WORLD_SIZE", "2"},
                                                           {"RANK", "0"},
                                                           {"MASTER_PORT", "1"},
                                                           {"MASTER_ADDR", std::nullopt}}),
      "MASTER_ADDR is not set"));
  // An address that does not resolve: one line at once, not c10d's retries until the timeout.
  EXPECT_TRUE(one_line_error(deepgen(toy_train(dir.file("y"), {"--steps", "5"}),
                                     {{"WORLD_SIZE", "2"},
                                      {"RANK", "1"},
                                      {"MASTER_PORT", "29999"},
                                      {"MASTER_ADDR", "no-such-host.invalid"}}),
                             "MASTER_ADDR 'no-such-host.invalid' does not resolve"));
}

bool host_name_resolves() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return false;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(name, nullptr, nullptr, &found);
  if (found != nullptr) ::freeaddrinfo(found);
  return rc == 0;
}

// torchrun --no_python launches the binary itself: its default (static) rendezvous, where the
// agent hosts the store (given --master_addr, as the README says), and --standalone, which
// sets MASTER_ADDR to the host name: where that does not resolve (a minimal root without it in
// /etc/hosts) the ranks must fail at once with one line, not retry until the timeout.
TEST(CliDist, TorchrunNoPython) {
  const std::string torchrun = "/usr/bin/torchrun";
  ASSERT_TRUE(fs::exists(torchrun)) << "torchrun missing: apt-get install python3-torch "
                                       "(./scripts/setup.sh installs it)";
  for (const std::string mode : {"static", "standalone"}) {
    TempDir dir;
    const std::string out = dir.file("run");
    std::vector<std::string> args{
        "--no_python", "--nproc_per_node", "2", "--redirects", "1", "--tee", "1"};
    if (mode == "standalone")
      args.push_back("--standalone");
    else
      args.insert(args.end(),
                  {"--master_addr", "127.0.0.1", "--master_port", std::to_string(free_port())});
    args.push_back(kBinary);
    for (const auto& a : toy_train(out, {"--steps", "30"})) args.push_back(a);
    Process p(args, {{"RANK", std::nullopt}, {"WORLD_SIZE", std::nullopt}}, torchrun);
    const Result r = p.wait(120.0);
    if (mode == "standalone" && !host_name_resolves()) {
      EXPECT_FALSE(r.timed_out) << describe(r);
      EXPECT_NE(r.code, 0) << describe(r);
      EXPECT_NE(r.err.find("does not resolve"), std::string::npos) << describe(r);
      continue;
    }
    ASSERT_TRUE(succeeded(r)) << mode;
    EXPECT_NE((r.out + r.err).find("as 2 data-parallel ranks"), std::string::npos) << mode;
    EXPECT_TRUE(fs::exists(out + "/model.safetensors")) << mode;
    EXPECT_EQ(training_rows(out).back()["step"].get<double>(), 30) << mode;
  }
}

}  // namespace
