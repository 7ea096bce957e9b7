#pragma once
// The classes of a conditional run (issue 15): their names, saved with the run, and the labels
// a request asks for, by name or index.
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace deepgen::run {

// The training set's class names saved with the run (classes.json), or none.
std::vector<std::string> class_names(const std::string& run_dir);

// The index of `wanted`, a class name of `names` or an index below `classes`; an error naming
// the run's classes otherwise. `flag` names the option in the message.
int64_t class_index(const std::string& wanted, const std::vector<std::string>& names,
                    int64_t classes, const std::string& flag);

// The labels a sample request draws: n of class `wanted` when it is set, else `per_class` of
// each class in turn (a grid row per class); undefined when neither is given. An error when
// either is asked of an unconditional run (classes = 0) or both are given.
at::Tensor requested_labels(const std::string& run_dir, int64_t classes, const std::string& wanted,
                            int64_t n, int64_t per_class);

}  // namespace deepgen::run
