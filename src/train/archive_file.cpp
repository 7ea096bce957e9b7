#include "archive_file.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "deepgen/core/error.h"
#include "deepgen/io/files.h"

namespace deepgen::train {

namespace {

// The zip's end-of-central-directory record ends every archive PyTorch writes: 22 bytes, the
// last two the comment length (0). The checksum becomes a 22-byte comment: tag + 8 hex digits
// of the CRC-32 of the archive as PyTorch wrote it.
constexpr size_t kEocd = 22;
constexpr char kTag[] = "deepgen-crc32 ";
constexpr size_t kTagLength = sizeof(kTag) - 1;
constexpr size_t kComment = kTagLength + 8;
static_assert(kComment == 22, "the comment length is written as one byte below");

uint32_t crc_of(uint32_t crc, const char* data, size_t n) {
  while (n > 0) {  // zlib takes uInt lengths
    const auto chunk = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    crc = static_cast<uint32_t>(crc32(crc, reinterpret_cast<const Bytef*>(data), chunk));
    data += chunk;
    n -= chunk;
  }
  return crc;
}

bool is_plain_eocd(const std::string& tail) {
  return tail.size() == kEocd && tail.compare(0, 4, "PK\x05\x06") == 0 && tail[20] == 0 &&
         tail[21] == 0;
}

std::string hex(uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

// Streams through a writer that never reports a short write: PyTorch's zip writer would throw
// from its destructor on one (std::terminate on a full disk). The failure is raised after the
// writer is done. Streaming (not save_to(path)) keeps the temp file's name out of the zip.
void write_file(torch::serialize::OutputArchive& archive, const std::string& tmp,
                const std::string& path) {
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) throw Error("cannot write " + path + ": " + std::strerror(errno));
  bool failed = false;
  uint32_t crc = crc_of(0, nullptr, 0);
  std::string tail;
  archive.save_to([&](const void* data, size_t n) -> size_t {
    const auto* bytes = static_cast<const char*>(data);
    crc = crc_of(crc, bytes, n);
    tail.append(bytes + (n > kEocd ? n - kEocd : 0), std::min(n, kEocd));
    if (tail.size() > kEocd) tail.erase(0, tail.size() - kEocd);
    if (!failed && !out.write(bytes, static_cast<std::streamsize>(n))) failed = true;
    return n;
  });
  if (!failed && !is_plain_eocd(tail))
    throw Error("cannot checksum " + path + ": the archive does not end as a zip without comment");
  if (!failed) {
    out.seekp(-2, std::ios::end);
    const char length[2] = {static_cast<char>(kComment), 0};
    out.write(length, 2);
    out.seekp(0, std::ios::end);
    const std::string comment = kTag + hex(crc);
    out.write(comment.data(), static_cast<std::streamsize>(comment.size()));
  }
  out.close();
  if (failed || !out) throw Error("cannot write " + path + " (disk full?)");
}

Error damaged(const std::string& why) {
  return Error("damaged (" + why + "): resume from an intact copy, or start a new run");
}

uint32_t le(const std::string& b, size_t at, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[at + i]);
  return v;
}

// The CRC-32 of a deflated entry's content, which must inflate to exactly `size` bytes.
uint32_t inflated_crc(const char* data, size_t length, uint32_t size) {
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw Error("zlib: cannot start inflating");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
  z.avail_in = static_cast<uInt>(length);
  std::vector<char> out(1 << 16);
  uint32_t crc = crc_of(0, nullptr, 0);
  uint64_t total = 0;
  int rc = Z_OK;
  while (rc == Z_OK && total <= size) {
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    rc = inflate(&z, Z_NO_FLUSH);
    const size_t produced = out.size() - z.avail_out;
    if (rc == Z_BUF_ERROR && produced == 0) break;  // input ended before the stream did
    crc = crc_of(crc, out.data(), produced);
    total += produced;
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END || total != size) throw damaged("a compressed zip entry does not inflate");
  return crc;
}

// The zip's own per-entry CRC-32s (PyTorch stores tensors uncompressed and deflates some code
// records), for checkpoints written before deepgen's checksum: a damaged one must not reach
// PyTorch's reader either. deepgen never wrote one over 4 GiB, so a zip64 marker is damage.
void verify_entries(const std::string& b) {
  const size_t n = b.size(), eocd = n - kEocd;
  const uint32_t entries = le(b, eocd + 10, 2), size = le(b, eocd + 12, 4),
                 start = le(b, eocd + 16, 4);
  if (entries == 0xffff || size == 0xffffffffu || start == 0xffffffffu)
    throw damaged("a zip64 directory in a checkpoint of an earlier deepgen");
  if (static_cast<uint64_t>(start) + size > eocd) throw damaged("its zip directory is cut");
  size_t at = start;
  for (uint32_t e = 0; e < entries; ++e) {
    if (at + 46 > eocd || b.compare(at, 4, "PK\x01\x02") != 0)
      throw damaged("its zip directory is broken");
    const uint32_t method = le(b, at + 10, 2), crc = le(b, at + 16, 4), length = le(b, at + 20, 4),
                   size = le(b, at + 24, 4);
    const size_t local = le(b, at + 42, 4);
    at += 46 + le(b, at + 28, 2) + le(b, at + 30, 2) + le(b, at + 32, 2);
    if ((method != 0 && method != 8) || length == 0xffffffffu || size == 0xffffffffu)
      throw damaged("a zip entry PyTorch does not write (method " + std::to_string(method) + ")");
    if (local + 30 > n || b.compare(local, 4, "PK\x03\x04") != 0)
      throw damaged("a zip entry's header is broken");
    const size_t data = local + 30 + le(b, local + 26, 2) + le(b, local + 28, 2);
    if (data + length > n) throw damaged("a zip entry is cut");
    const uint32_t actual = method == 0 ? crc_of(crc_of(0, nullptr, 0), b.data() + data, length)
                                        : inflated_crc(b.data() + data, length, size);
    if (actual != crc) throw damaged("a zip entry's CRC-32 does not match its bytes");
  }
}

void verify(std::string& bytes) {
  const size_t n = bytes.size();
  if (n >= kEocd && is_plain_eocd(bytes.substr(n - kEocd))) {  // before deepgen's checksum
    verify_entries(bytes);
    return;
  }
  if (n < kEocd + kComment || bytes.compare(n - kComment, kTagLength, kTag) != 0 ||
      bytes.compare(n - kComment - kEocd, 4, "PK\x05\x06") != 0)
    throw damaged("no checksum where deepgen writes it");
  const std::string stored = bytes.substr(n - 8);
  bytes.resize(n - kComment);  // the archive as PyTorch wrote it: comment length 0
  bytes[bytes.size() - 2] = bytes[bytes.size() - 1] = 0;
  if (hex(crc_of(crc_of(0, nullptr, 0), bytes.data(), bytes.size())) != stored)
    throw damaged("its CRC-32 does not match its bytes");
}

}  // namespace

void save_archive_file(torch::serialize::OutputArchive& archive, const std::string& path) {
  io::write_atomic(path, [&](const std::string& tmp) { write_file(archive, tmp, path); });
}

void load_archive_file(torch::serialize::InputArchive& archive, const std::string& path) {
  std::string bytes = io::read_file(path);
  verify(bytes);
  std::istringstream in(std::move(bytes));
  archive.load_from(in);
}

}  // namespace deepgen::train
