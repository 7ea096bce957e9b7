#pragma once
// A checkpoint's TorchScript archive on disk: written atomically and streamed (no temp-file name
// inside the zip, no abort on a full disk), with a CRC-32 of its bytes in the zip comment, since
// PyTorch's reader skips the zip's own CRCs and a damaged file would resume silently changed.
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <string>

namespace deepgen::train {

void save_archive_file(torch::serialize::OutputArchive& archive, const std::string& path);
// Throws deepgen::Error saying what is damaged (the caller names the file). Files written before
// the checksum (a zip without a comment) load unverified.
void load_archive_file(torch::serialize::InputArchive& archive, const std::string& path);

}  // namespace deepgen::train
