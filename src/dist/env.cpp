#include <cstdlib>
#include <string>

#include "deepgen/core/error.h"
#include "deepgen/dist/comm.h"

namespace deepgen::dist {
namespace {

const char* get(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

// A whole number in [lo, hi] from the environment, or `fallback` when the variable is unset.
int env_int(const char* name, int lo, int hi, int fallback, bool required) {
  const char* v = get(name);
  if (v == nullptr) {
    if (!required) return fallback;
    throw Error(std::string("WORLD_SIZE > 1 but ") + name +
                " is not set: launch with torchrun --no_python, or set RANK, WORLD_SIZE, "
                "MASTER_ADDR and MASTER_PORT for every process");
  }
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (*end != '\0' || x < lo || x > hi)
    throw Error(std::string("environment variable ") + name + "='" + v +
                "' is not a whole number in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                "]");
  return static_cast<int>(x);
}

}  // namespace

bool WorldEnv::on_loopback() const {
  return master_addr == "localhost" || master_addr.rfind("127.", 0) == 0 || master_addr == "::1";
}

WorldEnv world_from_env() {
  WorldEnv e;
  e.world = env_int("WORLD_SIZE", 1, 1 << 20, 1, false);
  if (e.world == 1) return e;
  e.rank = env_int("RANK", 0, e.world - 1, 0, true);
  e.local_rank = env_int("LOCAL_RANK", 0, 1 << 20, e.rank, false);
  e.master_port = env_int("MASTER_PORT", 1, 65535, 0, true);
  const char* addr = get("MASTER_ADDR");
  if (addr == nullptr)
    throw Error(
        "WORLD_SIZE > 1 but MASTER_ADDR is not set: set it to the host of rank 0 (127.0.0.1 "
        "on one machine)");
  e.master_addr = addr;
  e.local_world = env_int("LOCAL_WORLD_SIZE", 1, e.world, e.on_loopback() ? e.world : 1, false);
  const char* agent = get("TORCHELASTIC_USE_AGENT_STORE");
  e.agent_store = agent != nullptr && std::string(agent) == "True";
  if (e.agent_store) {
    const char* attempt = get("TORCHELASTIC_RESTART_COUNT");
    e.store_prefix = std::string("/worker/attempt_") + (attempt ? attempt : "0");
  }
  return e;
}

}  // namespace deepgen::dist
