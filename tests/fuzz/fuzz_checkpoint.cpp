// Checkpoints (src/train/checkpoint.cpp load_checkpoint: LibTorch's zip + TorchScript archive
// reader, then our tensor names, shapes and the optimiser's state) into a small model with EMA
// and the trainer's optimiser, then the random state as a resume restores it (core/rng.cpp).
// Any LibTorch exception must come out as deepgen::Error. By default mutations mostly meet the
// checksums (deepgen's, or the zip entries' CRCs for older files); DEEPGEN_FUZZ_FIX_CRC=1 fuzzes
// what a crafted file reaches behind them (see findings/README.md).
#include <ATen/CPUGeneratorImpl.h>
#include <zlib.h>

#include "deepgen/core/rng.h"
#include "deepgen/io/files.h"
#include "deepgen/train/checkpoint.h"
#include "deepgen/train/ema.h"
#include "deepgen/train/optim.h"
#include "fuzz_support.h"
#include "train/toy_model.h"

namespace {

struct Model {
  deepgen::testing::ToyDenoiser model{3, 0.1};
  std::unique_ptr<torch::optim::Optimizer> optimizer =
      deepgen::train::make_optimizer({}, model.module());
  deepgen::train::Ema ema{model.module(), 0.99};
};

Model& model() {
  static Model m;
  return m;
}

// The zip without its archive comment (where a checksum of the file may sit): the variant a
// mutation can change and still reach the archive's records.
std::string without_zip_comment(std::string zip) {
  const size_t eocd = zip.rfind(std::string("PK\x05\x06", 4));
  if (eocd == std::string::npos || eocd + 22 > zip.size()) return zip;
  zip[eocd + 20] = zip[eocd + 21] = 0;
  zip.resize(eocd + 22);
  return zip;
}

uint32_t le(const std::string& b, size_t at, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(b[at + i]);
  return v;
}

void put_le32(std::string& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<char>(v >> (8 * i));
}

// DEEPGEN_FUZZ_FIX_CRC=1: every stored entry's CRC-32 made to match its bytes (in the central
// directory and the local header) and the archive comment dropped, as a crafted file would be.
// Damage is then no longer caught by the checksums, and mutations reach LibTorch's archive
// reader, unpickler and TorchScript importer behind them.
std::string with_matching_crcs(std::string b) {
  b = without_zip_comment(std::move(b));
  const size_t eocd = b.size() - 22;
  if (b.size() < 22 || b.compare(eocd, 4, "PK\x05\x06") != 0) return b;
  size_t at = le(b, eocd + 16, 4);
  for (uint32_t e = 0, n = le(b, eocd + 10, 2); e < n && at + 46 <= eocd; ++e) {
    const size_t length = le(b, at + 20, 4), local = le(b, at + 42, 4);
    const size_t next = at + 46 + le(b, at + 28, 2) + le(b, at + 30, 2) + le(b, at + 32, 2);
    if (local + 30 <= b.size()) {
      const size_t data = local + 30 + le(b, local + 26, 2) + le(b, local + 28, 2);
      if (data + length <= b.size()) {
        const auto crc = static_cast<uint32_t>(
            crc32(0, reinterpret_cast<const Bytef*>(b.data() + data), static_cast<uInt>(length)));
        put_le32(b, at + 16, crc);
        put_le32(b, local + 14, crc);
      }
    }
    at = next;
  }
  return b;
}

}  // namespace

void fuzz_one(const uint8_t* data, size_t size) {
  Model& m = model();
  static const bool fix_crc = std::getenv("DEEPGEN_FUZZ_FIX_CRC") != nullptr;
  const std::string path = deepgen::fuzz::scratch() + "/checkpoint.pt";
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  deepgen::fuzz::write_bytes(path, fix_crc ? with_matching_crcs(bytes) : bytes);
  const deepgen::train::CheckpointState state =
      deepgen::train::load_checkpoint(path, m.model.module(), &m.ema, *m.optimizer);
  deepgen::set_global_rng_state(state.rng);
}

void write_seeds(const std::string& dir) {
  Model& m = model();
  torch::manual_seed(3);
  for (int step = 0; step < 2; ++step) {  // optimiser state worth saving
    deepgen::train::zero_grad(*m.optimizer);
    m.model.loss(torch::randn({4, 3})).loss.backward();
    m.optimizer->step();
    m.ema.update(m.model.module(), step);
  }
  deepgen::train::CheckpointState state{2, deepgen::global_rng_state(), {}};
  const std::string with_ema = dir + "/with-ema.pt", no_ema = dir + "/no-ema.pt";
  deepgen::train::save_checkpoint(with_ema, m.model.module(), &m.ema, *m.optimizer, state);
  state.rng_ranks = state.rng.unsqueeze(0);  // one rank's
  deepgen::train::save_checkpoint(no_ema, m.model.module(), nullptr, *m.optimizer, state);
  for (const std::string& path : {with_ema, no_ema}) {
    const std::string bytes = deepgen::io::read_file(path);
    const std::string stripped = without_zip_comment(bytes);
    if (stripped != bytes)
      deepgen::fuzz::write_bytes(path.substr(0, path.size() - 3) + "-no-comment.pt", stripped);
  }
}
