// The c10d communicator, with two ranks as two threads of this process (each its own Gloo
// process group over loopback): collectives give exact sums, and a rank that leaves is an error.
#include "deepgen/dist/comm.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <thread>

#include "deepgen/core/error.h"
#include "dist_support.h"

namespace deepgen::testing {
namespace {

using Body = std::function<void(dist::Communicator&)>;

dist::WorldEnv env_of(int rank, int world, int port) {
  dist::WorldEnv e;
  e.rank = rank;
  e.world = world;
  e.local_world = world;
  e.master_port = port;
  return e;
}

// Runs body(rank) on `world` ranks, one thread each; rethrows the first failure.
void on_ranks(int world, const std::function<void(int, dist::Communicator&)>& body,
              std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  const int port = free_port();
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(world);
  for (int r = 0; r < world; ++r)
    threads.emplace_back([&, r] {
      try {
        auto comm = dist::join(env_of(r, world, port), c10::Device(c10::kCPU), timeout);
        body(r, *comm);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

TEST(Comm, AllreduceMeanOverBucketsIsExact) {
  // Values are small integers times 1/4: sums and the halving are exact in float32, so the
  // comparison is exact; a 7-element bucket over 100 elements exercises the ragged last slice.
  on_ranks(2, [](int rank, dist::Communicator& comm) {
    at::Tensor x = torch::arange(100, torch::kFloat) * 0.25 * (rank + 1);
    dist::allreduce_mean(comm, x, 7);
    const at::Tensor want = torch::arange(100, torch::kFloat) * 0.25 * 1.5;
    EXPECT_TRUE(torch::equal(x, want)) << "rank " << rank;
  });
}

TEST(Comm, BroadcastAndAllgather) {
  on_ranks(2, [](int rank, dist::Communicator& comm) {
    EXPECT_EQ(comm.rank(), rank);
    EXPECT_EQ(comm.world(), 2);
    at::Tensor a = torch::full({3}, static_cast<double>(rank + 10));
    at::Tensor b = torch::full({2, 2}, static_cast<int64_t>(rank), torch::kLong);
    at::Tensor bytes = torch::full({5}, rank + 1, torch::kByte);  // generator states are bytes
    comm.broadcast({a, b, bytes});
    EXPECT_TRUE(torch::equal(a, torch::full({3}, 10.0)));
    EXPECT_TRUE(torch::equal(b, torch::zeros({2, 2}, torch::kLong)));
    EXPECT_TRUE(torch::equal(bytes, torch::full({5}, 1, torch::kByte)));
    at::Tensor g = comm.allgather(torch::full({4}, rank + 1, torch::kByte));
    ASSERT_EQ(g.sizes(), (std::vector<int64_t>{2, 4}));
    EXPECT_EQ(g[0][0].item<int>(), 1);
    EXPECT_EQ(g[1][3].item<int>(), 2);
  });
}

TEST(Comm, SingleProcessIsTheIdentity) {
  auto comm = dist::single_process();
  at::Tensor x = torch::randn({10});
  const at::Tensor before = x.clone();
  dist::allreduce_mean(*comm, x, 3);
  comm->broadcast({x});
  EXPECT_TRUE(torch::equal(x, before));
  EXPECT_TRUE(torch::equal(comm->allgather(x)[0], before));
}

TEST(Comm, ARankThatLeavesIsAnErrorNotAHang) {
  // Rank 1 leaves after one collective; rank 0's next all-reduce must fail quickly (its peer's
  // sockets closed), far inside the 30 s timeout, with the library's one-line error.
  const auto t0 = std::chrono::steady_clock::now();
  std::string message;
  on_ranks(2, [&](int rank, dist::Communicator& comm) {
    at::Tensor x = torch::ones({8});
    comm.allreduce_sum({x});
    if (rank == 1) return;  // its process group is destroyed with it
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    try {
      comm.allreduce_sum({x});
    } catch (const Error& e) {
      message = e.what();
    }
  });
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(message.find("another rank exited"), std::string::npos) << message;
  EXPECT_LT(secs, 20.0);
}

TEST(Comm, RendezvousWithoutTheOtherRanksTimesOut) {
  // Rank 1 of 2 with nobody hosting the store: a clear error after the timeout, not a hang.
  dist::WorldEnv e = env_of(1, 2, free_port());
  try {
    dist::join(e, c10::Device(c10::kCPU), std::chrono::seconds(2));
    FAIL() << "join returned without a store";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("could not rendezvous"), std::string::npos)
        << err.what();
  }
}

// world_from_env reads the process environment; each case sets and clears its variables.
class Env : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const char* v :
         {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
          "TORCHELASTIC_USE_AGENT_STORE", "TORCHELASTIC_RESTART_COUNT"})
      unsetenv(v);
  }
  static std::string error_of() {
    try {
      dist::world_from_env();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
};

TEST_F(Env, UnsetMeansOneProcess) {
  const dist::WorldEnv e = dist::world_from_env();
  EXPECT_EQ(e.world, 1);
  EXPECT_EQ(e.rank, 0);
}

TEST_F(Env, TorchrunVariables) {
  setenv("WORLD_SIZE", "2", 1);
  setenv("RANK", "1", 1);
  setenv("LOCAL_RANK", "1", 1);
  setenv("MASTER_ADDR", "127.0.0.1", 1);
  setenv("MASTER_PORT", "29555", 1);
  setenv("TORCHELASTIC_USE_AGENT_STORE", "True", 1);
  setenv("TORCHELASTIC_RESTART_COUNT", "3", 1);
  const dist::WorldEnv e = dist::world_from_env();
  EXPECT_EQ(e.world, 2);
  EXPECT_EQ(e.rank, 1);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.local_world, 2);  // loopback master: all ranks on this host
  EXPECT_EQ(e.master_port, 29555);
  EXPECT_TRUE(e.agent_store);
  EXPECT_EQ(e.store_prefix, "/worker/attempt_3");
}

TEST_F(Env, MissingOrBadVariablesAreNamed) {
  setenv("WORLD_SIZE", "2", 1);
  setenv("RANK", "0", 1);
  setenv("MASTER_PORT", "29555", 1);
  EXPECT_NE(error_of().find("MASTER_ADDR"), std::string::npos) << error_of();
  setenv("MASTER_ADDR", "127.0.0.1", 1);
  setenv("RANK", "2", 1);
  EXPECT_NE(error_of().find("RANK='2'"), std::string::npos) << error_of();
  setenv("RANK", "1", 1);
  setenv("MASTER_PORT", "http", 1);
  EXPECT_NE(error_of().find("MASTER_PORT='http'"), std::string::npos) << error_of();
  unsetenv("MASTER_PORT");
  EXPECT_NE(error_of().find("MASTER_PORT is not set"), std::string::npos) << error_of();
  setenv("WORLD_SIZE", "two", 1);
  EXPECT_NE(error_of().find("WORLD_SIZE='two'"), std::string::npos) << error_of();
}

}  // namespace
}  // namespace deepgen::testing
