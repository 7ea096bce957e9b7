#pragma once
// Data-parallel collectives on PyTorch's c10d (Gloo on CPU, NCCL for CUDA tensors when LibTorch
// has it). The process-group headers stay in src/dist: callers see only this interface.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace deepgen::dist {

// The torchrun environment. With WORLD_SIZE unset (or 1) the process is a world of its own.
struct WorldEnv {
  int rank = 0, world = 1, local_rank = 0;
  // Ranks on this host: LOCAL_WORLD_SIZE, else WORLD_SIZE when MASTER_ADDR is a loopback
  // address, else 1. They share its cores.
  int local_world = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  // torchrun's agent already hosts the store (TORCHELASTIC_USE_AGENT_STORE=True): every rank
  // connects as a client under this prefix, as torch.distributed's env:// does.
  bool agent_store = false;
  std::string store_prefix;
  // MASTER_ADDR is this host's loopback: every rank runs here and talks over 127.0.0.1.
  bool on_loopback() const;
};

// Reads RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT (and torchrun's agent-store
// variables). Throws deepgen::Error naming the variable that is missing or malformed.
WorldEnv world_from_env();

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world() const = 0;
  // In place: every tensor becomes its sum over ranks. All are launched, then all waited for.
  virtual void allreduce_sum(const std::vector<at::Tensor>& tensors) = 0;
  // In place: every rank's tensors become root's.
  virtual void broadcast(const std::vector<at::Tensor>& tensors, int root = 0) = 0;
  // Every rank's `t` (same shape on all ranks), stacked: (world, ...).
  virtual at::Tensor allgather(const at::Tensor& t) = 0;
  virtual void barrier() = 0;
};

// A world of one: every collective leaves its tensors as they are.
std::shared_ptr<Communicator> single_process();

// Joins the process group described by `env`. Rank 0 hosts the TCPStore rendezvous at
// MASTER_ADDR:MASTER_PORT (unless torchrun's agent does) and the others connect; waiting for a
// rank that never comes, or a collective a dead rank never joins, fails after `timeout` (a rank
// that exits closes its sockets, which the others see at once). Collectives of CUDA tensors use
// NCCL when this LibTorch has it; tensors on other devices go through Gloo.
std::shared_ptr<Communicator> join(const WorldEnv& env, c10::Device device,
                                   std::chrono::milliseconds timeout);

// Consecutive slices of at most bucket_elems elements of a 1-D contiguous buffer (views), so that
// a large gradient buffer goes out as a few large all-reduce calls that are in flight together.
std::vector<at::Tensor> buckets(const at::Tensor& flat, int64_t bucket_elems);
// The mean over ranks of a 1-D contiguous buffer, in place, all-reduced bucket by bucket.
void allreduce_mean(Communicator& comm, const at::Tensor& flat, int64_t bucket_elems);

}  // namespace deepgen::dist
