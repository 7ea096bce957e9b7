#include "deepgen/dist/comm.h"

#include "deepgen/core/config.h"
// The c10d headers compile their backends only when asked; defined here rather than on the
// command line so that this file still shares the precompiled header.
#define USE_C10D_GLOO 1
#if DEEPGEN_WITH_NCCL
#define USE_C10D_NCCL 1
#endif
#include <netdb.h>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "deepgen/core/error.h"

namespace deepgen::dist {
namespace {

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int world() const override { return 1; }
  void allreduce_sum(const std::vector<at::Tensor>&) override {}
  void broadcast(const std::vector<at::Tensor>&, int) override {}
  at::Tensor allgather(const at::Tensor& t) override { return t.unsqueeze(0).clone(); }
  void barrier() override {}
};

class ProcessGroup final : public Communicator {
 public:
  ProcessGroup(const WorldEnv& env, c10::Device device, std::chrono::milliseconds timeout)
      : rank_(env.rank), world_(env.world) {
    c10::intrusive_ptr<c10d::Store> store = rendezvous(env, timeout);
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    // On one machine the ranks talk over loopback; elsewhere Gloo binds the address the host
    // name resolves to (GLOO_SOCKET_IFNAME picks an interface instead, as in PyTorch).
    const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
    if (ifname != nullptr && *ifname != '\0')
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    else if (env.on_loopback())
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    options->threads = 2;
    gloo_ = c10::make_intrusive<c10d::ProcessGroupGloo>(
        c10::make_intrusive<c10d::PrefixStore>("gloo/", store), rank_, world_, options);
#ifdef USE_C10D_NCCL
    if (device.is_cuda()) {
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = timeout;
      nccl_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(
          c10::make_intrusive<c10d::PrefixStore>("nccl/", store), rank_, world_, nccl_options);
    }
#else
    (void)device;
#endif
    // Every rank finishes connecting before any goes on: a rank that fails its own checks right
    // after this (a batch the ranks cannot split) then exits without cutting a peer off in the
    // middle of its handshake, which that peer reported as a Gloo "connection closed" instead of
    // the same error (CliDist.ErrorsStopEveryRank, about one run in six).
    barrier();
  }

  int rank() const override { return rank_; }
  int world() const override { return world_; }

  void allreduce_sum(const std::vector<at::Tensor>& tensors) override {
    guarded("all-reduce", [&] {
      std::vector<c10::intrusive_ptr<c10d::Work>> works;
      for (const at::Tensor& t : tensors) {
        std::vector<at::Tensor> one{t};
        works.push_back(group_for(t).allreduce(one));
      }
      for (auto& w : works) w->wait();
    });
  }

  void broadcast(const std::vector<at::Tensor>& tensors, int root) override {
    guarded("broadcast", [&] {
      c10d::BroadcastOptions o;
      o.rootRank = root;
      std::vector<c10::intrusive_ptr<c10d::Work>> works;
      for (const at::Tensor& t : tensors) {
        std::vector<at::Tensor> one{t};
        works.push_back(group_for(t).broadcast(one, o));
      }
      for (auto& w : works) w->wait();
    });
  }

  at::Tensor allgather(const at::Tensor& t) override {
    std::vector<std::vector<at::Tensor>> out(1);
    const at::Tensor in = t.contiguous();
    for (int r = 0; r < world_; ++r) out[0].push_back(at::empty_like(in));
    guarded("all-gather", [&] {
      std::vector<at::Tensor> one{in};
      group_for(in).allgather(out, one)->wait();
    });
    return at::stack(out[0]);
  }

  void barrier() override {
    guarded("barrier", [&] { gloo_->barrier()->wait(); });
  }

 private:
  static c10::intrusive_ptr<c10d::Store> rendezvous(const WorldEnv& env,
                                                    std::chrono::milliseconds timeout) {
    c10d::TCPStoreOptions o;
    o.port = static_cast<uint16_t>(env.master_port);
    o.isServer = !env.agent_store && env.rank == 0;
    o.numWorkers = static_cast<size_t>(env.world);
    o.waitWorkers = true;
    o.timeout = timeout;
    require_resolvable(env.master_addr);
    try {
      auto store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
      if (!env.agent_store) return store;
      return c10::make_intrusive<c10d::PrefixStore>(env.store_prefix, store);
    } catch (const std::exception& e) {
      throw Error("rank " + std::to_string(env.rank) + " of " + std::to_string(env.world) +
                  " could not rendezvous at " + env.master_addr + ":" +
                  std::to_string(env.master_port) + " within " +
                  std::to_string(timeout.count() / 1000) +
                  " s: start every rank (rank 0 hosts the store), check MASTER_ADDR/MASTER_PORT "
                  "and that the port is free (" +
                  first_line(e) + ")");
    }
  }

  // c10d retries an address that does not resolve until the timeout, warning every second;
  // one lookup first turns that into one line at once.
  static void require_resolvable(const std::string& host) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
    if (found != nullptr) ::freeaddrinfo(found);
    if (rc != 0)
      throw Error("MASTER_ADDR '" + host + "' does not resolve (" + ::gai_strerror(rc) +
                  "): set it to an address every rank reaches, e.g. 127.0.0.1 on one machine "
                  "(torchrun's master_addr option)");
  }

  // core's brief() (one line, no C++ stack), kept short enough to sit inside a sentence.
  static std::string first_line(const std::exception& e) {
    const std::string line = brief(e);
    return line.size() > 160 ? line.substr(0, 160) + "..." : line;
  }

  c10d::ProcessGroup& group_for(const at::Tensor& t) {
#ifdef USE_C10D_NCCL
    if (nccl_ && t.is_cuda()) return *nccl_;
#else
    (void)t;
#endif
    return *gloo_;
  }

  // A collective that fails means another rank died, hung past the timeout, or the network
  // broke: one clear error, instead of the backend's multi-line trace.
  template <class F>
  void guarded(const char* what, F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      throw Error("distributed " + std::string(what) + " failed on rank " + std::to_string(rank_) +
                  " of " + std::to_string(world_) + ": another rank exited or stopped answering (" +
                  first_line(e) + "); restart every rank, resuming from the last checkpoint");
    }
  }

  int rank_, world_;
  c10::intrusive_ptr<c10d::ProcessGroup> gloo_;
#ifdef USE_C10D_NCCL
  c10::intrusive_ptr<c10d::ProcessGroup> nccl_;
#endif
};

}  // namespace

std::shared_ptr<Communicator> single_process() { return std::make_shared<SingleProcess>(); }

std::shared_ptr<Communicator> join(const WorldEnv& env, c10::Device device,
                                   std::chrono::milliseconds timeout) {
  if (env.world <= 1) return single_process();
  return std::make_shared<ProcessGroup>(env, device, timeout);
}

std::vector<at::Tensor> buckets(const at::Tensor& flat, int64_t bucket_elems) {
  if (flat.dim() != 1 || !flat.is_contiguous())
    throw Error("all-reduce buckets need a 1-D contiguous buffer");
  if (bucket_elems <= 0) throw Error("all-reduce bucket size must be positive");
  std::vector<at::Tensor> out;
  for (int64_t start = 0; start < flat.numel(); start += bucket_elems)
    out.push_back(flat.narrow(0, start, std::min(bucket_elems, flat.numel() - start)));
  return out;
}

void allreduce_mean(Communicator& comm, const at::Tensor& flat, int64_t bucket_elems) {
  if (comm.world() == 1) return;
  comm.allreduce_sum(buckets(flat, bucket_elems));
  flat.div_(comm.world());
}

}  // namespace deepgen::dist
