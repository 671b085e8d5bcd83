// Builds a JSON document from fuzz bytes, with the member names a parser
// looks for and every JSON type in every place. Byte-level mutation of a
// JSON answer almost never turns a string into a number or an object into
// an array (each step through invalid JSON gains no coverage), which is
// exactly how a parser that assumes the answer's shape goes wrong; this
// reaches those shapes directly.
#ifndef VOLCRYPT_TESTS_FUZZ_JSON_FROM_BYTES_H_
#define VOLCRYPT_TESTS_FUZZ_JSON_FROM_BYTES_H_

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace volcrypt {
namespace fuzzing {

// Returns a value of any JSON type, nested at most `depth` more levels,
// whose member names and strings are often taken from `words`.
inline nlohmann::json JsonFromBytes(FuzzedDataProvider& p,
                                    const std::vector<std::string>& words, int depth) {
  auto word = [&]() -> std::string {
    if (!words.empty() && p.ConsumeBool()) {
      return words[p.ConsumeIntegralInRange<size_t>(0, words.size() - 1)];
    }
    return p.ConsumeRandomLengthString(64);
  };
  switch (p.ConsumeIntegralInRange<int>(0, depth > 0 ? 6 : 4)) {
    case 0: return nullptr;
    case 1: return p.ConsumeBool();
    case 2: return p.ConsumeIntegral<int64_t>();
    case 3: return p.ConsumeFloatingPoint<double>();
    case 4: return word();
    case 5: {
      nlohmann::json a = nlohmann::json::array();
      for (int n = p.ConsumeIntegralInRange<int>(0, 4); n > 0; --n) {
        a.push_back(JsonFromBytes(p, words, depth - 1));
      }
      return a;
    }
    default: {
      nlohmann::json o = nlohmann::json::object();
      for (int n = p.ConsumeIntegralInRange<int>(0, 5); n > 0; --n) {
        o[word()] = JsonFromBytes(p, words, depth - 1);
      }
      return o;
    }
  }
}

// The text of JsonFromBytes() (bytes that are not UTF-8 replaced, as the
// text came from a JSON parser).
inline std::string JsonTextFromBytes(const uint8_t* data, size_t size,
                                     const std::vector<std::string>& words) {
  FuzzedDataProvider p(data, size);
  return JsonFromBytes(p, words, 5).dump(-1, ' ', false,
                                         nlohmann::json::error_handler_t::replace);
}

}  // namespace fuzzing
}  // namespace volcrypt

#endif  // VOLCRYPT_TESTS_FUZZ_JSON_FROM_BYTES_H_
