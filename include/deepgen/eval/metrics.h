#pragma once
// Sample-quality and likelihood metrics shared by every family.
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace deepgen::eval {

// bits/dim = nats / (D ln 2): a per-example negative log-likelihood in nats to bits per dimension.
double bits_per_dim(double nats, int64_t dim);

// Energy distance between samples a (n, D) and b (m, D) (Székely & Rizzo 2013):
// 2 E|a − b| − E|a − a'| − E|b − b'|, with the unbiased (off-diagonal) within-set means.
// Zero in expectation iff the distributions are equal; used for 2-D samples vs fresh data.
double energy_distance(const at::Tensor& a, const at::Tensor& b);

}  // namespace deepgen::eval
