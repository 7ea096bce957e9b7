#pragma once
// OptionTable by name only, for headers that declare a table's getter; core/options.h defines
// it (and brings the JSON library with it).
namespace deepgen {
template <class O>
class OptionTable;
}  // namespace deepgen
